/**
 * The Neo4j 5 driver over Bolt (`neo4j-driver`). Labels and relationship types are checked
 * against the identifier pattern and the allowlists before they are interpolated (Cypher cannot
 * take them as parameters); every value travels as a parameter. Writes run in transaction
 * functions, which retry transient errors within `maxRetryTime`; every transaction has a
 * server-side timeout and connection acquisition is bounded, so nothing hangs while Neo4j is down.
 */
import neo4j, { type Driver, type ManagedTransaction, type Node, type Path } from "neo4j-driver";
import type { HealthReport } from "../../core/plugin.ts";
import type { Logger } from "../../core/log.ts";
import { redactText } from "../../core/redact.ts";
import { TimeoutError, withTimeout } from "../../core/timing.ts";
import type {
  BatchItem,
  BatchResult,
  Cycle,
  CycleOptions,
  CypherResult,
  EdgeKey,
  EdgeUpsert,
  FindNodesOptions,
  GraphDriver,
  GraphEdge,
  GraphFeature,
  GraphLimits,
  GraphNode,
  GraphPath,
  NeighborList,
  NeighborOptions,
  NodePage,
  NodeRef,
  NodeUpsert,
  PathOptions,
  RefView,
  Upserted,
} from "./driver.ts";
import { atField, cycleRejected, graphError } from "./errors.ts";
import {
  assertLabel,
  assertType,
  canonicalCycle,
  filterCandidates,
  nodeKey,
} from "./identifiers.ts";
import { fromNeo4jError } from "./neo4j_errors.ts";
import {
  groups,
  neighborsQuery,
  notFound,
  pathQuery,
  refuseUnlessReadOnly,
  upsertEdges,
  upsertNodes,
} from "./neo4j_statements.ts";
import {
  fromNeo4j,
  matchRef,
  nodeFromNeo4j,
  pathFromNeo4j,
  refOf,
  refParam,
  toNeo4jParameter,
} from "./neo4j_values.ts";

/** Options of {@linkcode Neo4jGraph}. */
export interface Neo4jGraphOptions extends GraphLimits {
  /** `bolt://host:7687`, `neo4j+s://host`... */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Most open connections. */
  readonly poolSize: number;
  /** Milliseconds a query waits for a free connection. */
  readonly acquisitionTimeout: number;
  /** Milliseconds opening one connection may take. */
  readonly connectionTimeout: number;
  /** Server-side timeout of every transaction, in milliseconds. */
  readonly queryTimeout: number;
  /** Milliseconds spent retrying transient errors inside a transaction function. */
  readonly maxRetryTime: number;
  /** Where the client library's own warnings go. */
  readonly log?: Logger;
}

/** The label of the nodes that serialize `rejectCycle` writes, one per relationship type. */
export const LOCK_LABEL = "_EdgeboxCycleLock";
/** Upper bound of any integer interpolated into a query (depths), whatever the caller says. */
const INTERPOLATED_MAX = 100_000;
/** How long a successful transaction stands in for a health probe. */
const RECENT_SUCCESS_MS = 2_000;
/** Longest the probe's `RETURN 1` may take before the server counts as not answering. */
const PING_DEADLINE_MS = 2_000;

/** Graph driver on Neo4j 5. */
export class Neo4jGraph implements GraphDriver {
  readonly features: ReadonlySet<GraphFeature> = new Set<GraphFeature>(["cypher"]);
  readonly #options: Neo4jGraphOptions;
  #driver: Driver | undefined;
  #prepared = false;
  /** Labels known to have their `id` uniqueness constraint. */
  readonly #constrained = new Set<string>();
  /** When a transaction last succeeded (performance.now()), for a probe that costs nothing. */
  #lastSuccess = -Infinity;

  constructor(options: Neo4jGraphOptions) {
    this.#options = options;
  }

  async connect(): Promise<void> {
    const driver = this.#driver ??= this.#createDriver();
    try {
      await driver.verifyConnectivity({ database: this.#options.database });
    } catch (error) {
      throw fromNeo4jError(error, `connect to ${redactText(this.#options.url)}`);
    }
    if (this.#prepared) return;
    for (const label of this.#options.labels ?? []) await this.#ensureConstraint(label);
    await this.#schema(
      `CREATE CONSTRAINT edgebox_cycle_lock IF NOT EXISTS FOR (l:${LOCK_LABEL}) REQUIRE l.type IS UNIQUE`,
      "create the cycle lock constraint",
    );
    this.#prepared = true;
  }

  async ping(): Promise<HealthReport> {
    if (!this.#driver) return { status: "down", detail: "not connected" };
    // A transaction that just succeeded proves the server is there; probing would only queue
    // behind a busy pool and could report a loaded server as down.
    if (performance.now() - this.#lastSuccess < RECENT_SUCCESS_MS) return { status: "ready" };
    // A query, not the pool's word: a hung server keeps its sockets open, and only a round
    // trip with a deadline tells it from a live one.
    const deadline = Math.min(PING_DEADLINE_MS, this.#options.connectionTimeout);
    const session = this.#session("READ");
    let timedOut = false;
    try {
      const result = await withTimeout(
        async () => await session.run("RETURN 1", {}, { timeout: deadline }),
        deadline,
        "RETURN 1",
      );
      const { agent, address } = result.summary.server;
      return { status: "ready", detail: `${agent ?? "neo4j"} at ${address}` };
    } catch (error) {
      timedOut = error instanceof TimeoutError;
      const detail = timedOut
        ? `Neo4j at ${redactText(this.#options.url)} did not answer RETURN 1 within ${deadline}ms`
        : fromNeo4jError(error, "probe the server").message;
      return { status: "down", detail };
    } finally {
      // Closing waits for the query: after a timeout, let it end whenever the server answers.
      const closing = session.close().catch(() => {});
      if (!timedOut) await closing;
    }
  }

  async upsertNode(node: NodeUpsert): Promise<Upserted<GraphNode>> {
    this.#checkLabel(node.label);
    await this.#ensureConstraint(node.label);
    return await this.#write(`upsert node ${nodeKey(node)}`, async (tx) => {
      const [row] = await upsertNodes(tx, node.label, [node]);
      return { value: row!.node, created: row!.created };
    });
  }

  async getNode(ref: NodeRef): Promise<GraphNode | undefined> {
    const label = this.#checkLabel(ref.label);
    return await this.#read(`read node ${nodeKey(ref)}`, async (tx) => {
      const result = await tx.run(`${matchRef("n", label, "$ref")} RETURN n`, {
        ref: refParam(ref),
      });
      const node = result.records[0]?.get("n") as Node | null | undefined;
      return node ? nodeFromNeo4j(node, ref.label) : undefined;
    });
  }

  async deleteNode(ref: NodeRef): Promise<boolean> {
    const label = this.#checkLabel(ref.label);
    return await this.#write(`delete node ${nodeKey(ref)}`, async (tx) => {
      const result = await tx.run(
        `${matchRef("n", label, "$ref")}
         WITH n WHERE n IS NOT NULL DETACH DELETE n RETURN count(*) AS deleted`,
        { ref: refParam(ref) },
      );
      return Number(result.records[0]?.get("deleted") ?? 0) > 0;
    });
  }

  async findNodes(label: string, options: FindNodesOptions): Promise<NodePage> {
    const quoted = this.#checkLabel(label);
    const params: Record<string, unknown> = {};
    const filters = Object.entries(options.where ?? {}).map(([key, text], i) => {
      params[`k${i}`] = key;
      params[`v${i}`] = filterCandidates(text).map(toNeo4jParameter);
      return ` AND n[$k${i}] IN $v${i}`;
    }).join("");
    const start = listingPosition(options.after);
    return await this.#read(`list nodes ${label}`, async (tx) => {
      // String ids first (the edgebox-created nodes, in index order), then integer ids, then
      // nodes addressed by elementId; a phase runs only once the one before is exhausted.
      const found: { node: Node; position: string }[] = [];
      for (let phase = start.phase; phase < LISTING_PHASES.length; phase++) {
        if (found.length > options.limit) break;
        const { where, order, position } = LISTING_PHASES[phase]!;
        const result = await tx.run(
          `MATCH (n:${quoted}) WHERE ${where}${filters} RETURN n ORDER BY ${order} LIMIT $limit`,
          {
            ...params,
            after: phase === start.phase ? start.after : null,
            limit: neo4j.int(options.limit + 1 - found.length),
          },
        );
        for (const record of result.records) {
          const node = record.get("n") as Node;
          found.push({ node, position: position(node) });
        }
      }
      const nodes = found.slice(0, options.limit).map((f) => nodeFromNeo4j(f.node, label));
      if (found.length <= options.limit) return { nodes };
      return { nodes, next: found[options.limit - 1]!.position };
    });
  }

  async upsertEdge(edge: EdgeUpsert): Promise<Upserted<GraphEdge>> {
    this.#checkEdgeKey(edge);
    return await this.#write(
      `upsert relationship ${nodeKey(edge.from)} -[${edge.type}]-> ${nodeKey(edge.to)}`,
      (tx) => this.#upsertEdge(tx, edge),
    );
  }

  async deleteEdge(key: EdgeKey): Promise<boolean> {
    const { from, type, to } = this.#checkEdgeKey(key);
    return await this.#write(
      `delete relationship ${nodeKey(key.from)} -[${key.type}]-> ${nodeKey(key.to)}`,
      async (tx) => {
        const result = await tx.run(
          `${matchRef("s", from, "$from")}
           ${matchRef("t", to, "$to")}
           MATCH (s)-[r:${type}]->(t)
           DELETE r RETURN count(*) AS deleted`,
          { from: refParam(key.from), to: refParam(key.to) },
        );
        return Number(result.records[0]?.get("deleted") ?? 0) > 0;
      },
    );
  }

  async neighbors(ref: NodeRef, options: NeighborOptions): Promise<NeighborList | undefined> {
    const label = this.#checkLabel(ref.label);
    const query = neighborsQuery(label, {
      type: this.#optionalType(options.type),
      direction: options.direction,
      depth: bounded(options.depth, "depth"),
    });
    return await this.#read(`traverse from ${nodeKey(ref)}`, async (tx) => {
      const result = await tx.run(query, {
        ref: refParam(ref),
        limit: neo4j.int(options.limit + 1),
      });
      if (result.records.length === 0) return undefined;
      const neighbors = result.records
        .filter((r) => r.get("m") !== null)
        .map((r) => ({
          ...nodeFromNeo4j(r.get("m") as Node),
          distance: Number(r.get("distance")),
        }));
      return {
        neighbors: neighbors.slice(0, options.limit),
        truncated: neighbors.length > options.limit,
      };
    });
  }

  async shortestPath(
    from: NodeRef,
    to: NodeRef,
    options: PathOptions,
  ): Promise<GraphPath | undefined> {
    const fromLabel = this.#checkLabel(from.label, "from");
    const toLabel = this.#checkLabel(to.label, "to");
    const same = from.label === to.label && from.id === to.id;
    const query = same
      ? `${matchRef("s", fromLabel, "$from")} RETURN s, s AS t, null AS p`
      : pathQuery(fromLabel, toLabel, {
        type: this.#optionalType(options.type),
        direction: options.direction,
        depth: bounded(options.maxDepth, "maxDepth"),
      });
    return await this.#read(`find a path ${nodeKey(from)} to ${nodeKey(to)}`, async (tx) => {
      const result = await tx.run(query, { from: refParam(from), to: refParam(to) });
      const record = result.records[0];
      const start = record?.get("s") as Node | null | undefined;
      const end = record?.get("t") as Node | null | undefined;
      if (!start) throw notFound(from, "from");
      if (!end) throw notFound(to, "to");
      if (same) return { nodes: [nodeFromNeo4j(start, from.label)], relationships: [] };
      const path = record?.get("p") as Path | null | undefined;
      return path ? pathFromNeo4j(path, { from: from.label, to: to.label }) : undefined;
    });
  }

  async cycles(options: CycleOptions): Promise<Cycle[]> {
    const type = this.#checkType(options.type);
    const depth = bounded(options.maxLength, "maxLength");
    // Each simple cycle once: started from its smallest element id, with no node repeated.
    const query = `MATCH p = (n)-[:${type}*1..${depth}]->(n)
      WHERE all(m IN nodes(p) WHERE elementId(m) >= elementId(n))
        AND all(i IN range(0, length(p) - 2) WHERE NOT nodes(p)[i] IN nodes(p)[i + 1..length(p)])
      RETURN nodes(p) AS cycle
      LIMIT $limit`;
    return await this.#read(`list cycles of ${options.type}`, async (tx) => {
      const result = await tx.run(query, { limit: neo4j.int(options.limit) });
      return result.records.map((r) =>
        canonicalCycle((r.get("cycle") as Node[]).map((node) => refOf(node)))
      );
    });
  }

  async batch(items: readonly BatchItem[]): Promise<BatchResult> {
    items.forEach((item, index) => {
      try {
        if (item.op === "node") this.#checkLabel(item.label, "label");
        else this.#checkEdgeKey(item);
      } catch (error) {
        throw atField(error, `items.${index}`);
      }
    });
    for (const label of new Set(items.flatMap((i) => i.op === "node" ? [i.label] : []))) {
      await this.#ensureConstraint(label);
    }
    return await this.#write(`apply a batch of ${items.length}`, async (tx) => {
      const results: { op: "node" | "edge"; created: boolean }[] = [];
      for (const group of groups(items)) {
        if (group.kind === "node") {
          const rows = await upsertNodes(tx, group.items[0]!.label, group.items);
          for (const row of rows) results.push({ op: "node", created: row.created });
        } else if (group.kind === "edges") {
          const upserted = await upsertEdges(tx, group.items, group.start);
          for (const { created } of upserted) results.push({ op: "edge", created });
        } else {
          try {
            const { created } = await this.#upsertEdge(tx, group.items[0]!);
            results.push({ op: "edge", created });
          } catch (error) {
            throw atField(error, `items.${group.start}`);
          }
        }
      }
      return { results };
    });
  }

  async cypher(
    query: string,
    params: Readonly<Record<string, unknown>>,
    options: { maxRows: number },
  ): Promise<CypherResult> {
    const parameters = toNeo4jParameter(params) as Record<string, unknown>;
    return await this.#read("run a Cypher query", async (tx) => {
      const plan = await tx.run(`EXPLAIN ${query}`, parameters);
      refuseUnlessReadOnly(plan.summary);
      const result = tx.run(query, parameters);
      const columns = [...await result.keys()];
      const rows: Record<string, unknown>[] = [];
      let truncated = false;
      for await (const record of result) {
        if (rows.length >= options.maxRows) {
          truncated = true;
          break;
        }
        const row: Record<string, unknown> = {};
        for (const column of columns) row[column] = fromNeo4j(record.get(column));
        rows.push(row);
      }
      return { columns, rows, truncated };
    }, "caller");
  }

  async close(): Promise<void> {
    const driver = this.#driver;
    this.#driver = undefined;
    this.#prepared = false;
    this.#lastSuccess = -Infinity;
    await driver?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #createDriver(): Driver {
    const o = this.#options;
    return neo4j.driver(o.url, neo4j.auth.basic(o.user, o.password), {
      maxConnectionPoolSize: o.poolSize,
      connectionAcquisitionTimeout: o.acquisitionTimeout,
      connectionTimeout: o.connectionTimeout,
      maxTransactionRetryTime: o.maxRetryTime,
      userAgent: "edgebox-graph",
      notificationFilter: { minimumSeverityLevel: "OFF" },
      logging: {
        level: "warn",
        logger: (level, message) => {
          if (level === "error") o.log?.error("neo4j driver", { message });
          else o.log?.warn("neo4j driver", { message });
        },
      },
    });
  }

  /** The relationship upsert inside a transaction; `rejectCycle` serializes on a lock node. */
  async #upsertEdge(tx: ManagedTransaction, edge: EdgeUpsert): Promise<Upserted<GraphEdge>> {
    const { from, type, to } = this.#checkEdgeKey(edge);
    if (edge.rejectCycle) {
      const params = { from: refParam(edge.from), to: refParam(edge.to), type: edge.type };
      // Two concurrent inserts that together close a cycle must not both pass the check: a
      // write lock per type makes the second wait, then see the first one's edge.
      await tx.run(`MERGE (l:${LOCK_LABEL} {type: $type}) SET l.at = timestamp()`, params);
      const found = await tx.run(
        `${matchRef("s", from, "$from")}
         ${matchRef("t", to, "$to")}
         OPTIONAL MATCH (s)-[r:${type}]->(t)
         RETURN s, t, r IS NOT NULL AS exists`,
        params,
      );
      const state = found.records[0]!;
      const s = state.get("s") as Node | null;
      const t = state.get("t") as Node | null;
      if (!s) throw notFound(edge.from, "from");
      if (!t) throw notFound(edge.to, "to");
      if (!state.get("exists")) {
        const start = refOf(s, edge.from.label);
        const back = s.elementId === t.elementId ? [start] : await this.#wayBack(tx, edge);
        if (back) throw cycleRejected(edge, [start, ...back]);
      }
    }
    const [upserted] = await upsertEdges(tx, [edge], undefined);
    return {
      value: {
        from: upserted!.from,
        type: edge.type,
        to: upserted!.to,
        properties: edge.properties ?? {},
      },
      created: upserted!.created,
    };
  }

  /** The nodes of a shortest path from the edge's target back to its source, if one exists. */
  async #wayBack(tx: ManagedTransaction, edge: EdgeUpsert): Promise<RefView[] | undefined> {
    const { from, type, to } = this.#checkEdgeKey(edge);
    const depth = bounded(this.#options.cycleCheckDepth, "cycleCheckDepth");
    const result = await tx.run(
      `${matchRef("s", from, "$from")}
       ${matchRef("t", to, "$to")}
       WITH s, t WHERE s IS NOT NULL AND t IS NOT NULL
       MATCH p = shortestPath((t)-[:${type}*..${depth}]->(s))
       RETURN nodes(p) AS back`,
      { from: refParam(edge.from), to: refParam(edge.to) },
    );
    const back = result.records[0]?.get("back") as Node[] | undefined;
    if (!back) return undefined;
    return back.map((node, i) =>
      refOf(node, i === 0 ? edge.to.label : i === back.length - 1 ? edge.from.label : undefined)
    );
  }

  async #ensureConstraint(label: string): Promise<void> {
    if (this.#constrained.has(label)) return;
    const quoted = this.#checkLabel(label);
    await this.#schema(
      `CREATE CONSTRAINT ${constraintName(label)} IF NOT EXISTS
       FOR (n:${quoted}) REQUIRE n.id IS UNIQUE`,
      `create the id constraint of ${label}`,
    );
    this.#constrained.add(label);
  }

  /** Runs a schema statement on its own (schema and data writes cannot share a transaction). */
  async #schema(statement: string, action: string): Promise<void> {
    try {
      await this.#write(action, (tx) => tx.run(statement));
    } catch (error) {
      // Two writers creating the same constraint at once: the loser's error means it exists.
      const cause = (error as { cause?: { code?: string } }).cause;
      if (!/AlreadyExists/.test(cause?.code ?? "")) throw error;
    }
  }

  async #read<T>(
    action: string,
    work: (tx: ManagedTransaction) => Promise<T>,
    source: "internal" | "caller" = "internal",
  ): Promise<T> {
    const session = this.#session("READ");
    try {
      const result = await session.executeRead(work, { timeout: this.#options.queryTimeout });
      this.#lastSuccess = performance.now();
      return result;
    } catch (error) {
      throw fromNeo4jError(error, action, source);
    } finally {
      await session.close();
    }
  }

  async #write<T>(action: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const session = this.#session("WRITE");
    try {
      const result = await session.executeWrite(work, { timeout: this.#options.queryTimeout });
      this.#lastSuccess = performance.now();
      return result;
    } catch (error) {
      throw fromNeo4jError(error, action);
    } finally {
      await session.close();
    }
  }

  #session(mode: "READ" | "WRITE") {
    const driver = this.#driver;
    if (!driver) throw graphError.unavailable("The graph is not connected to neo4j");
    return driver.session({
      database: this.#options.database,
      defaultAccessMode: mode === "READ" ? neo4j.session.READ : neo4j.session.WRITE,
      // Shared with every session of this driver, so a read sees the writes before it.
      bookmarkManager: driver.executeQueryBookmarkManager,
    });
  }

  /** Validates a label and returns it quoted for interpolation. */
  #checkLabel(label: string, field?: string): string {
    assertLabel(label, this.#options.labels, field);
    return `\`${label}\``;
  }

  /** Validates a relationship type and returns it quoted for interpolation. */
  #checkType(type: string, field?: string): string {
    assertType(type, this.#options.relationships, field);
    return `\`${type}\``;
  }

  #optionalType(type: string | undefined): string | undefined {
    return type === undefined ? undefined : this.#checkType(type, "type");
  }

  #checkEdgeKey(key: EdgeKey): { from: string; type: string; to: string } {
    return {
      from: this.#checkLabel(key.from.label, "from.label"),
      type: this.#checkType(key.type, "type"),
      to: this.#checkLabel(key.to.label, "to.label"),
    };
  }
}

/** An integer that goes into query text: checked, whatever the caller's types promised. */
function bounded(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > INTERPOLATED_MAX) {
    throw graphError("graph.backend_error", {
      detail: `${name} must be an integer in 1..${INTERPOLATED_MAX}`,
    });
  }
  return value;
}

/** One phase of a node listing: which nodes, in what order, and how a position is written. */
interface ListingPhase {
  readonly where: string;
  readonly order: string;
  readonly position: (node: Node) => string;
}

/**
 * The phases of a node listing. Positions of the first are the bare string id (as the embedded
 * drivers write them); the others carry a `#` prefix, which no node id has.
 */
const LISTING_PHASES: readonly ListingPhase[] = [
  {
    where: "n.id IS :: STRING NOT NULL AND ($after IS NULL OR n.id > $after)",
    order: "n.id",
    position: (node) => node.properties.id as string,
  },
  {
    where: "n.id IS :: INTEGER NOT NULL AND ($after IS NULL OR n.id > $after)",
    order: "n.id",
    position: (node) => `#i:${node.properties.id}`,
  },
  {
    where: "NOT (n.id IS :: STRING NOT NULL OR n.id IS :: INTEGER NOT NULL) " +
      "AND ($after IS NULL OR elementId(n) > $after)",
    order: "elementId(n)",
    position: (node) => `#e:${node.elementId}`,
  },
];

/** The phase and `$after` parameter a listing position resumes at. */
function listingPosition(after: string | undefined): { phase: number; after: unknown } {
  if (after === undefined) return { phase: 0, after: null };
  if (after.startsWith("#e:")) return { phase: 2, after: after.slice(3) };
  if (after.startsWith("#i:")) {
    const digits = after.slice(3);
    if (!/^-?\d{1,19}$/.test(digits)) {
      throw graphError("graph.cursor_invalid", {
        detail: "The cursor is not one this API returned",
        field: "query.cursor",
      });
    }
    return { phase: 1, after: neo4j.int(digits) };
  }
  return { phase: 0, after };
}

/** The name of the uniqueness constraint the driver creates for a label (tests drop it). */
export function constraintName(label: string): string {
  return `edgebox_${label}_id`;
}

Neo4jGraph satisfies new (options: Neo4jGraphOptions) => GraphDriver;
