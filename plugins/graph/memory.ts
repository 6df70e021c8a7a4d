/**
 * The embedded graph: an in-memory property graph with a label index and per-node adjacency maps
 * by relationship type in both directions. Every operation runs synchronously inside one call,
 * so each is atomic and `rejectCycle` checks cannot interleave; batches keep an undo log.
 *
 * A durable backend keeps this graph as its working set: `onChange` names every node and
 * relationship a write touched (cascades included), the snapshot methods read their current
 * state back, and the restore methods rebuild the graph from stored records at start.
 */
import type { HealthReport } from "../../core/plugin.ts";
import type {
  BatchItem,
  BatchResult,
  Cycle,
  CycleOptions,
  Direction,
  EdgeKey,
  EdgeUpsert,
  FindNodesOptions,
  GraphDriver,
  GraphEdge,
  GraphFeature,
  GraphLimits,
  GraphNode,
  GraphPath,
  Neighbor,
  NeighborList,
  NeighborOptions,
  NodePage,
  NodeRef,
  NodeUpsert,
  PathOptions,
  Properties,
  PropertyValue,
  Upserted,
} from "./driver.ts";
import { atField, cycleRejected, graphError } from "./errors.ts";
import {
  assertLabel,
  assertType,
  compareRefs,
  edgeKeyOf,
  filterCandidates,
  nodeKey,
} from "./identifiers.ts";

/** Options of {@linkcode MemoryGraph}. */
export interface MemoryGraphOptions extends GraphLimits {
  /** Most nodes held. */
  readonly maxNodes: number;
  /** Most relationships held. */
  readonly maxEdges: number;
  /** Most expansion steps one traversal may take before it is cut off (504). */
  readonly maxSteps?: number;
  /**
   * Called synchronously for every node or relationship created, updated or deleted (a node's
   * deletion reports each relationship it takes with it). A batch that fails reports what it
   * touched before undoing it; the undone state is whatever the snapshot methods read then.
   */
  readonly onChange?: (change: GraphChange) => void;
}

/** A node as the embedded drivers store it: always a string id. */
export type StoredNode = NodeUpsert;

/** A relationship as the embedded drivers store it. */
export interface StoredEdge extends EdgeKey {
  readonly properties: Properties;
}

/** A node or relationship a write touched, by its key: read its state with a snapshot method. */
export type GraphChange =
  | { readonly kind: "node"; readonly ref: NodeRef }
  | { readonly kind: "edge"; readonly key: EdgeKey };

interface NodeRecord {
  readonly label: string;
  readonly id: string;
  properties: Properties;
  /** Outgoing relationships: type -> target key -> edge. */
  readonly out: Map<string, Map<string, EdgeRecord>>;
  /** Incoming relationships: type -> source key -> edge. */
  readonly in: Map<string, Map<string, EdgeRecord>>;
}

interface EdgeRecord {
  readonly from: NodeRecord;
  readonly type: string;
  readonly to: NodeRecord;
  properties: Properties;
}

/** One step of a traversal: the edge followed and the node it leads to. */
interface Step {
  readonly edge: EdgeRecord;
  readonly node: NodeRecord;
}

const DEFAULT_MAX_STEPS = 5_000_000;

/** The in-memory graph driver. */
export class MemoryGraph implements GraphDriver {
  readonly features: ReadonlySet<GraphFeature> = new Set();
  readonly #options: MemoryGraphOptions;
  readonly #onChange: ((change: GraphChange) => void) | undefined;
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #byLabel = new Map<string, Map<string, NodeRecord>>();
  #edgeCount = 0;
  #closed = false;
  /** Undo actions of the batch in progress; `undefined` outside a batch. */
  #undo: (() => void)[] | undefined;

  constructor(options: MemoryGraphOptions) {
    this.#options = options;
    this.#onChange = options.onChange;
  }

  connect(): Promise<void> {
    this.#closed = false;
    return Promise.resolve();
  }

  ping(): Promise<HealthReport> {
    return Promise.resolve(
      this.#closed ? { status: "down", detail: "closed" } : {
        status: "ready",
        detail: `${this.#nodes.size} nodes, ${this.#edgeCount} relationships`,
      },
    );
  }

  upsertNode(node: NodeUpsert): Promise<Upserted<GraphNode>> {
    return this.#run(() => this.#upsertNode(node));
  }

  getNode(ref: NodeRef): Promise<GraphNode | undefined> {
    return this.#run(() => {
      this.#checkRef(ref);
      const record = this.#nodes.get(nodeKey(ref));
      return record ? nodeOf(record) : undefined;
    });
  }

  deleteNode(ref: NodeRef): Promise<boolean> {
    return this.#run(() => {
      this.#checkRef(ref);
      const record = this.#nodes.get(nodeKey(ref));
      if (!record) return false;
      for (const edges of [...record.out.values(), ...record.in.values()]) {
        for (const edge of [...edges.values()]) this.#removeEdge(edge);
      }
      this.#nodes.delete(nodeKey(ref));
      this.#byLabel.get(ref.label)?.delete(ref.id);
      this.#onChange?.({ kind: "node", ref: refOf(record) });
      return true;
    });
  }

  findNodes(label: string, options: FindNodesOptions): Promise<NodePage> {
    return this.#run(() => {
      assertLabel(label, this.#options.labels);
      const filters = Object.entries(options.where ?? {}).map(([key, text]) => ({
        key,
        candidates: filterCandidates(text),
      }));
      const matches: NodeRecord[] = [];
      for (const record of this.#byLabel.get(label)?.values() ?? []) {
        if (options.after !== undefined && record.id <= options.after) continue;
        const fits = filters.every(({ key, candidates }) => {
          const value = key === "id" ? record.id : record.properties[key];
          return !Array.isArray(value) && candidates.includes(value as string | number | boolean);
        });
        if (fits) matches.push(record);
      }
      matches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const page = matches.slice(0, options.limit);
      const last = page.at(-1);
      return matches.length > options.limit && last
        ? { nodes: page.map(nodeOf), next: last.id }
        : { nodes: page.map(nodeOf) };
    });
  }

  upsertEdge(edge: EdgeUpsert): Promise<Upserted<GraphEdge>> {
    return this.#run(() => this.#upsertEdge(edge));
  }

  deleteEdge(key: EdgeKey): Promise<boolean> {
    return this.#run(() => {
      this.#checkEdgeKey(key);
      const edge = this.#nodes.get(nodeKey(key.from))?.out.get(key.type)?.get(nodeKey(key.to));
      if (!edge) return false;
      this.#removeEdge(edge);
      return true;
    });
  }

  neighbors(ref: NodeRef, options: NeighborOptions): Promise<NeighborList | undefined> {
    return this.#run(() => {
      this.#checkRef(ref);
      if (options.type !== undefined) assertType(options.type, this.#options.relationships);
      const start = this.#nodes.get(nodeKey(ref));
      if (!start) return undefined;
      const budget = this.#budget();
      const distance = new Map<NodeRecord, number>([[start, 0]]);
      let frontier = [start];
      for (let depth = 1; depth <= options.depth && frontier.length > 0; depth++) {
        const next: NodeRecord[] = [];
        for (const node of frontier) {
          for (const step of steps(node, options.type, options.direction)) {
            budget();
            if (distance.has(step.node)) continue;
            distance.set(step.node, depth);
            next.push(step.node);
          }
        }
        frontier = next;
      }
      distance.delete(start);
      const found: Neighbor[] = [...distance].map(([node, hops]) => ({
        ...nodeOf(node),
        distance: hops,
      }));
      found.sort((a, b) => a.distance - b.distance || compareRefs(a, b));
      return {
        neighbors: found.slice(0, options.limit),
        truncated: found.length > options.limit,
      };
    });
  }

  shortestPath(from: NodeRef, to: NodeRef, options: PathOptions): Promise<GraphPath | undefined> {
    return this.#run(() => {
      this.#checkRef(from, "from");
      this.#checkRef(to, "to");
      if (options.type !== undefined) assertType(options.type, this.#options.relationships);
      const start = this.#require(from, "from");
      const end = this.#require(to, "to");
      const route = this.#search(start, end, options.type, options.direction, options.maxDepth);
      if (!route) return undefined;
      return {
        nodes: [start, ...route.map((step) => step.node)].map(nodeOf),
        relationships: route.map((step) => edgeOf(step.edge)),
      };
    });
  }

  cycles(options: CycleOptions): Promise<Cycle[]> {
    return this.#run(() => {
      assertType(options.type, this.#options.relationships);
      const budget = this.#budget();
      const starts = [...this.#nodes.values()]
        .filter((node) => (node.out.get(options.type)?.size ?? 0) > 0)
        .sort(compareRefs);
      const found: Cycle[] = [];
      // A simple cycle is reported once: from its smallest node, through larger ones only.
      for (const start of starts) {
        const path: NodeRecord[] = [start];
        const onPath = new Set<NodeRecord>([start]);
        const walk = (node: NodeRecord): void => {
          for (const edge of node.out.get(options.type)?.values() ?? []) {
            if (found.length >= options.limit) return;
            budget();
            const next = edge.to;
            if (next === start) {
              found.push([...path, start].map(refOf));
            } else if (
              path.length < options.maxLength && !onPath.has(next) && compareRefs(next, start) > 0
            ) {
              path.push(next);
              onPath.add(next);
              walk(next);
              path.pop();
              onPath.delete(next);
            }
          }
        };
        walk(start);
        if (found.length >= options.limit) break;
      }
      return found;
    });
  }

  batch(items: readonly BatchItem[]): Promise<BatchResult> {
    return this.#run(() => {
      const undo: (() => void)[] = [];
      this.#undo = undo;
      try {
        const results = items.map((item, index) => {
          try {
            return {
              op: item.op,
              created: item.op === "node"
                ? this.#upsertNode(item).created
                : this.#upsertEdge(item).created,
            };
          } catch (error) {
            throw atField(error, `items.${index}`);
          }
        });
        return { results };
      } catch (error) {
        for (const action of undo.reverse()) action();
        throw error;
      } finally {
        this.#undo = undefined;
      }
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#nodes.clear();
    this.#byLabel.clear();
    this.#edgeCount = 0;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The node as stored now, without checks (a durable backend reads what `onChange` named). */
  nodeSnapshot(ref: NodeRef): StoredNode | undefined {
    const record = this.#nodes.get(nodeKey(ref));
    return record
      ? { label: record.label, id: record.id, properties: record.properties }
      : undefined;
  }

  /** The relationship as stored now, without checks. */
  edgeSnapshot(key: EdgeKey): StoredEdge | undefined {
    const edge = this.#nodes.get(nodeKey(key.from))?.out.get(key.type)?.get(nodeKey(key.to));
    return edge ? storedEdgeOf(edge) : undefined;
  }

  /**
   * Puts back a stored node, skipping allowlists and limits (what was stored stays readable after
   * a config change) and `onChange`. It takes ownership of `node.properties` (freezing them in
   * place instead of copying: loading is the hot path). Restore every node before the edges.
   */
  restoreNode(node: StoredNode): void {
    const key = nodeKey(node);
    const properties = freezeInPlace(node.properties);
    const existing = this.#nodes.get(key);
    if (existing) {
      existing.properties = properties;
      return;
    }
    const record: NodeRecord = {
      label: node.label,
      id: node.id,
      properties,
      out: new Map(),
      in: new Map(),
    };
    this.#nodes.set(key, record);
    let index = this.#byLabel.get(node.label);
    if (!index) this.#byLabel.set(node.label, index = new Map());
    index.set(node.id, record);
  }

  /** Puts back a stored relationship like {@linkcode restoreNode}; both ends must be restored. */
  restoreEdge(edge: StoredEdge): void {
    const fromKey = nodeKey(edge.from);
    const toKey = nodeKey(edge.to);
    const from = this.#nodes.get(fromKey);
    const to = this.#nodes.get(toKey);
    if (!from || !to) {
      throw new Error(
        `relationship ${edgeKeyOf(edge.from, edge.type, edge.to)} names a missing node`,
      );
    }
    const properties = freezeInPlace(edge.properties);
    const out = adjacency(from.out, edge.type);
    const existing = out.get(toKey);
    if (existing) {
      existing.properties = properties;
      return;
    }
    const record: EdgeRecord = { from, type: edge.type, to, properties };
    out.set(toKey, record);
    adjacency(to.in, edge.type).set(fromKey, record);
    this.#edgeCount++;
  }

  /** Runs synchronous work as a promise (errors become rejections), once connected. */
  #run<T>(work: () => T): Promise<T> {
    try {
      if (this.#closed) throw graphError.unavailable("The in-memory graph is closed");
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #upsertNode(node: NodeUpsert): Upserted<GraphNode> {
    this.#checkRef(node);
    const key = nodeKey(node);
    const properties = frozen(node.properties);
    const existing = this.#nodes.get(key);
    if (existing) {
      const previous = existing.properties;
      existing.properties = properties;
      this.#undo?.push(() => existing.properties = previous);
      this.#onChange?.({ kind: "node", ref: refOf(existing) });
      return { value: nodeOf(existing), created: false };
    }
    if (this.#nodes.size >= this.#options.maxNodes) {
      throw graphError("graph.capacity_exceeded", {
        detail: `The in-memory graph holds its limit of ${this.#options.maxNodes} nodes`,
      });
    }
    const record: NodeRecord = {
      label: node.label,
      id: node.id,
      properties,
      out: new Map(),
      in: new Map(),
    };
    this.#nodes.set(key, record);
    let index = this.#byLabel.get(node.label);
    if (!index) this.#byLabel.set(node.label, index = new Map());
    index.set(node.id, record);
    this.#undo?.push(() => {
      this.#nodes.delete(key);
      this.#byLabel.get(node.label)?.delete(node.id);
    });
    this.#onChange?.({ kind: "node", ref: refOf(record) });
    return { value: nodeOf(record), created: true };
  }

  #upsertEdge(edge: EdgeUpsert): Upserted<GraphEdge> {
    this.#checkEdgeKey(edge);
    const from = this.#require(edge.from, "from");
    const to = this.#require(edge.to, "to");
    const properties = frozen(edge.properties ?? {});
    const existing = from.out.get(edge.type)?.get(nodeKey(to));
    if (existing) {
      const previous = existing.properties;
      existing.properties = properties;
      this.#undo?.push(() => existing.properties = previous);
      this.#onChange?.({ kind: "edge", key: storedEdgeOf(existing) });
      return { value: edgeOf(existing), created: false };
    }
    if (edge.rejectCycle) {
      // A way back from `to` to `from` plus the new edge is a cycle (a self-loop is one too).
      const back = this.#search(to, from, edge.type, "out", this.#options.cycleCheckDepth);
      if (back) {
        throw cycleRejected(edge, [refOf(from), refOf(to), ...back.map((s) => refOf(s.node))]);
      }
    }
    if (this.#edgeCount >= this.#options.maxEdges) {
      throw graphError("graph.capacity_exceeded", {
        detail: `The in-memory graph holds its limit of ${this.#options.maxEdges} relationships`,
      });
    }
    const record: EdgeRecord = { from, type: edge.type, to, properties };
    adjacency(from.out, edge.type).set(nodeKey(to), record);
    adjacency(to.in, edge.type).set(nodeKey(from), record);
    this.#edgeCount++;
    this.#undo?.push(() => this.#removeEdge(record));
    this.#onChange?.({ kind: "edge", key: storedEdgeOf(record) });
    return { value: edgeOf(record), created: true };
  }

  #removeEdge(edge: EdgeRecord): void {
    edge.from.out.get(edge.type)?.delete(nodeKey(edge.to));
    edge.to.in.get(edge.type)?.delete(nodeKey(edge.from));
    this.#edgeCount--;
    this.#onChange?.({ kind: "edge", key: storedEdgeOf(edge) });
  }

  /**
   * A shortest route by bidirectional breadth-first search (each round grows the smaller
   * frontier by one level, so it explores about two balls of half the radius instead of one
   * full one); `[]` when start is end. The first meeting is a shortest route: before the round
   * that finds it, no route as long as the levels grown so far existed.
   */
  #search(
    start: NodeRecord,
    end: NodeRecord,
    type: string | undefined,
    direction: Direction,
    maxDepth: number,
  ): Step[] | undefined {
    if (start === end) return [];
    const budget = this.#budget();
    const backward = reverse(direction);
    /** How each node was reached from `start` (its previous node and the edge between). */
    const fromStart = new Map<NodeRecord, Step & { readonly prev: NodeRecord } | null>([
      [start, null],
    ]);
    /** How each node leads to `end` (its next node and the edge between). */
    const toEnd = new Map<NodeRecord, Step | null>([[end, null]]);
    const route = (meeting: NodeRecord): Step[] => {
      const path: Step[] = [];
      for (let link = fromStart.get(meeting); link; link = fromStart.get(link.prev)) {
        path.unshift({ edge: link.edge, node: link.node });
      }
      for (let link = toEnd.get(meeting); link; link = toEnd.get(link.node)) path.push(link);
      return path;
    };
    let ahead = [start];
    let behind = [end];
    for (let grown = 0; grown < maxDepth && ahead.length > 0 && behind.length > 0; grown++) {
      const next: NodeRecord[] = [];
      if (ahead.length <= behind.length) {
        for (const node of ahead) {
          for (const step of steps(node, type, direction)) {
            budget();
            if (fromStart.has(step.node)) continue;
            fromStart.set(step.node, { ...step, prev: node });
            if (toEnd.has(step.node)) return route(step.node);
            next.push(step.node);
          }
        }
        ahead = next;
      } else {
        for (const node of behind) {
          for (const step of steps(node, type, backward)) {
            budget();
            if (toEnd.has(step.node)) continue;
            // Walking backward, `step.edge` leads from `step.node` to `node`.
            toEnd.set(step.node, { edge: step.edge, node });
            if (fromStart.has(step.node)) return route(step.node);
            next.push(step.node);
          }
        }
        behind = next;
      }
    }
    return undefined;
  }

  /** A step counter that cuts off a traversal past `maxSteps`, as Neo4j's query timeout would. */
  #budget(): () => void {
    let left = this.#options.maxSteps ?? DEFAULT_MAX_STEPS;
    return () => {
      if (--left < 0) {
        throw graphError("graph.query_timeout", {
          detail: "The traversal took too many steps; narrow it (type, depth, limit)",
        });
      }
    };
  }

  #require(ref: NodeRef, field: "from" | "to"): NodeRecord {
    const record = this.#nodes.get(nodeKey(ref));
    if (!record) {
      throw graphError("graph.node_not_found", {
        detail: `Node ${nodeKey(ref)} does not exist`,
        field,
      });
    }
    return record;
  }

  #checkRef(ref: NodeRef, field = "label"): void {
    assertLabel(ref.label, this.#options.labels, field);
  }

  #checkEdgeKey(key: EdgeKey): void {
    assertLabel(key.from.label, this.#options.labels, "from.label");
    assertLabel(key.to.label, this.#options.labels, "to.label");
    assertType(key.type, this.#options.relationships, "type");
  }
}

/** The direction that walks the same relationships the other way. */
function reverse(direction: Direction): Direction {
  return direction === "out" ? "in" : direction === "in" ? "out" : "both";
}

function* steps(node: NodeRecord, type: string | undefined, direction: Direction): Iterable<Step> {
  if (direction !== "in") {
    for (const edge of edgesOf(node.out, type)) yield { edge, node: edge.to };
  }
  if (direction !== "out") {
    for (const edge of edgesOf(node.in, type)) yield { edge, node: edge.from };
  }
}

function* edgesOf(
  index: Map<string, Map<string, EdgeRecord>>,
  type: string | undefined,
): Iterable<EdgeRecord> {
  if (type !== undefined) {
    yield* index.get(type)?.values() ?? [];
    return;
  }
  for (const edges of index.values()) yield* edges.values();
}

function adjacency(
  index: Map<string, Map<string, EdgeRecord>>,
  type: string,
): Map<string, EdgeRecord> {
  let edges = index.get(type);
  if (!edges) index.set(type, edges = new Map());
  return edges;
}

function refOf(node: NodeRecord): NodeRef {
  return { label: node.label, id: node.id };
}

function nodeOf(node: NodeRecord): GraphNode {
  return { label: node.label, labels: [node.label], id: node.id, properties: node.properties };
}

function storedEdgeOf(edge: EdgeRecord): StoredEdge {
  return {
    from: refOf(edge.from),
    type: edge.type,
    to: refOf(edge.to),
    properties: edge.properties,
  };
}

function edgeOf(edge: EdgeRecord): GraphEdge {
  return {
    from: refOf(edge.from),
    type: edge.type,
    to: refOf(edge.to),
    properties: edge.properties,
  };
}

/** The same properties frozen (lists and typed values too), for records nobody else holds. */
function freezeInPlace(properties: Properties): Properties {
  for (const value of Object.values(properties)) deepFreeze(value);
  return Object.freeze(properties);
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  for (const item of Object.values(value)) deepFreeze(item);
  Object.freeze(value);
}

/** A frozen copy, so neither the caller nor a reader can change what is stored. */
function frozen(properties: Properties): Properties {
  const copy: Record<string, PropertyValue> = {};
  for (const [key, value] of Object.entries(properties)) copy[key] = frozenValue(value);
  return Object.freeze(copy);
}

function frozenValue<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const [key, item] of Object.entries(value)) {
    (copy as Record<string, unknown>)[key] = frozenValue(item);
  }
  return Object.freeze(copy) as T;
}

MemoryGraph satisfies new (options: MemoryGraphOptions) => GraphDriver;
