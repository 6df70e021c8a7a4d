/**
 * The Cypher the Neo4j driver sends: traversal queries, the batched upsert statements, and the
 * read-only check of a caller's query. Labels and types reach these functions already validated
 * and quoted (or validated, where noted); every value is a parameter.
 */
import neo4j, { type ManagedTransaction, type Node, type ResultSummary } from "neo4j-driver";
import type {
  BatchItem,
  Direction,
  EdgeUpsert,
  GraphNode,
  NodeRef,
  NodeUpsert,
  RefView,
} from "./driver.ts";
import { atField, graphError } from "./errors.ts";
import { nodeKey } from "./identifiers.ts";
import { matchRef, nodeFromNeo4j, refOf, refParam, toNeo4jProperties } from "./neo4j_values.ts";

/** Plan operators a caller's read query may not use: file/URL reads and procedures. */
const FORBIDDEN_OPERATORS = /^(LoadCSV|ProcedureCall)/;

/** The query behind `neighbors`: Neo4j plans it as a pruning breadth-first expansion. */
export function neighborsQuery(
  quotedLabel: string,
  options: { type: string | undefined; direction: Direction; depth: number },
): string {
  const pattern = relationshipPattern(options.type, options.direction, `1..${options.depth}`);
  return `${matchRef("s", quotedLabel, "$ref")}
    WITH s WHERE s IS NOT NULL
    OPTIONAL MATCH p = (s)${pattern}(m) WHERE m <> s
    WITH m, min(length(p)) AS distance
    RETURN m, distance ORDER BY distance, labels(m)[0], m.id LIMIT $limit`;
}

/** The query behind `shortestPath` (ends that differ): ends and path in one round trip. */
export function pathQuery(
  fromLabel: string,
  toLabel: string,
  options: { type: string | undefined; direction: Direction; depth: number },
): string {
  const pattern = relationshipPattern(options.type, options.direction, `..${options.depth}`);
  return `${matchRef("s", fromLabel, "$from")}
    ${matchRef("t", toLabel, "$to")}
    OPTIONAL MATCH p = shortestPath((s)${pattern}(t))
    RETURN s, t, p`;
}

/** `-[:T*range]->`, `<-[...]-` or `-[...]-`. */
function relationshipPattern(type: string | undefined, direction: Direction, range: string) {
  const inner = `[${type === undefined ? "" : `:${type}`}*${range}]`;
  if (direction === "out") return `-${inner}->`;
  if (direction === "in") return `<-${inner}-`;
  return `-${inner}-`;
}

/** Upserts nodes of one label in one statement; rows come back in input order. */
export async function upsertNodes(
  tx: ManagedTransaction,
  label: string,
  nodes: readonly NodeUpsert[],
): Promise<{ node: GraphNode; created: boolean }[]> {
  // `label` was validated by the caller. A node the address finds keeps its own `id` (an
  // integer, or none); one it does not is created with the address as its string id. The
  // marker tells a created node from an updated one and disappears when the properties are
  // replaced; property keys cannot start with `_`.
  const result = await tx.run(
    `UNWIND $rows AS row
     ${matchRef("found", `\`${label}\``, "row.ref")}
     CALL (row, found) {
       WITH row, found WHERE found IS NULL
       MERGE (n:\`${label}\` {id: row.ref.id})
       ON CREATE SET n.__edgebox_created = true
       RETURN n
       UNION
       WITH found WHERE found IS NOT NULL
       RETURN found AS n
     }
     WITH n, row, row.props AS props, n.__edgebox_created IS NOT NULL AS created, n.id AS id
     SET n = props {.*, id: id}
     RETURN row.i AS i, created, n ORDER BY i`,
    {
      rows: nodes.map((node, i) => ({
        i: neo4j.int(i),
        ref: refParam(node),
        props: toNeo4jProperties(node.properties),
      })),
    },
  );
  // Within one statement Neo4j may run every MERGE before any SET, so a later row of the same
  // node can still see the marker: only a node's first row can have created it.
  const seen = new Set<string>();
  return result.records.map((r) => {
    const stored = r.get("n") as Node;
    const first = !seen.has(stored.elementId);
    seen.add(stored.elementId);
    return { node: nodeFromNeo4j(stored, label), created: first && (r.get("created") as boolean) };
  });
}

/**
 * Upserts relationships sharing labels and type in one statement; throws `graph.node_not_found`
 * naming the first item whose end is missing (`items.<firstIndex + i>` in a batch). Returns each
 * item's `created` flag and its ends (as answers name them) in order.
 */
export async function upsertEdges(
  tx: ManagedTransaction,
  edges: readonly EdgeUpsert[],
  firstIndex: number | undefined,
): Promise<{ created: boolean; from: RefView; to: RefView }[]> {
  const head = edges[0]!;
  // Labels and type were validated by the caller (all items share them).
  const from = `\`${head.from.label}\``;
  const to = `\`${head.to.label}\``;
  const type = `\`${head.type}\``;
  const rows = edges.map((edge, i) => ({
    i: neo4j.int(i),
    from: refParam(edge.from),
    to: refParam(edge.to),
    props: toNeo4jProperties(edge.properties ?? {}),
  }));
  const ends = `${matchRef("s", from, "row.from")}
     ${matchRef("t", to, "row.to")}`;
  const missing = await tx.run(
    `UNWIND $rows AS row
     ${ends}
     WITH row, s, t WHERE s IS NULL OR t IS NULL
     RETURN row.i AS i, s IS NULL AS noFrom ORDER BY i LIMIT 1`,
    { rows },
  );
  const gap = missing.records[0];
  if (gap) {
    const i = Number(gap.get("i"));
    const edge = edges[i]!;
    const end = gap.get("noFrom") ? "from" : "to";
    const error = notFound(edge[end], end);
    throw firstIndex === undefined ? error : atField(error, `items.${firstIndex + i}`);
  }
  const result = await tx.run(
    `UNWIND $rows AS row
     ${ends}
     MERGE (s)-[r:${type}]->(t)
     ON CREATE SET r.__edgebox_created = true
     WITH r, row, s, t, r.__edgebox_created IS NOT NULL AS created
     SET r = row.props
     RETURN row.i AS i, created, s, t ORDER BY i`,
    { rows },
  );
  // As with nodes: only the first row of a (from, to) pair can have created the relationship.
  const seen = new Set<string>();
  return result.records.map((r) => {
    const s = r.get("s") as Node;
    const t = r.get("t") as Node;
    const key = `${s.elementId}\u0000${t.elementId}`;
    const first = !seen.has(key);
    seen.add(key);
    return {
      created: first && (r.get("created") as boolean),
      from: refOf(s, head.from.label),
      to: refOf(t, head.to.label),
    };
  });
}

/** Consecutive batch items that can share one statement. */
export type Group =
  | { kind: "node"; start: number; items: (NodeUpsert & { op: "node" })[] }
  | { kind: "edges"; start: number; items: (EdgeUpsert & { op: "edge" })[] }
  | { kind: "guarded"; start: number; items: (EdgeUpsert & { op: "edge" })[] };

export function* groups(items: readonly BatchItem[]): Iterable<Group> {
  let current: Group | undefined;
  for (const [index, item] of items.entries()) {
    if (item.op === "node") {
      if (current?.kind === "node" && current.items[0]!.label === item.label) {
        current.items.push(item);
        continue;
      }
      if (current) yield current;
      current = { kind: "node", start: index, items: [item] };
    } else if (item.rejectCycle) {
      if (current) yield current;
      yield { kind: "guarded", start: index, items: [item] };
      current = undefined;
    } else {
      const head = current?.kind === "edges" ? current.items[0]! : undefined;
      if (
        current?.kind === "edges" && head && head.type === item.type &&
        head.from.label === item.from.label && head.to.label === item.to.label
      ) {
        current.items.push(item);
        continue;
      }
      if (current) yield current;
      current = { kind: "edges", start: index, items: [item] };
    }
  }
  if (current) yield current;
}

/** Refuses a caller's query unless its plan only reads (no writes, file loads or procedures). */
export function refuseUnlessReadOnly(summary: ResultSummary): void {
  if (summary.queryType !== "r") {
    throw graphError("graph.cypher_write_rejected", {
      detail: `Only read queries may run here; this one is of type "${summary.queryType}"`,
      field: "query",
    });
  }
  const operators: string[] = [];
  const walk = (plan: unknown): void => {
    if (!plan || typeof plan !== "object") return;
    const { operatorType, children } = plan as { operatorType?: string; children?: unknown[] };
    if (operatorType) operators.push(operatorType);
    for (const child of children ?? []) walk(child);
  };
  walk(summary.plan);
  const forbidden = operators.find((op) => FORBIDDEN_OPERATORS.test(op));
  if (forbidden) {
    throw graphError("graph.cypher_write_rejected", {
      detail: `Queries may not use ${
        forbidden.split("@")[0]
      } (file loads and procedures are refused)`,
      field: "query",
    });
  }
}

/** `graph.node_not_found` naming the end (`from`, `to`) that is missing. */
export function notFound(ref: NodeRef, field: string) {
  return graphError("graph.node_not_found", {
    detail: `Node ${nodeKey(ref)} does not exist`,
    field,
  });
}
