/**
 * What every graph backend does: upsert and delete nodes and typed relationships, traverse them
 * (neighbours, shortest path, cycles) and apply batches atomically. Routes speak only to this.
 */
import type { HealthReport } from "../../core/plugin.ts";
import type { IntValue, TypedValue } from "./typed_values.ts";

/**
 * One property value: a string, a boolean, a number (an integer within +-(2^53-1), or a float
 * with a fraction), or a typed value (`{"$int": ...}`, `{"$date": ...}`, see typed_values.ts).
 */
export type ScalarValue = string | number | boolean | TypedValue;

/** A property value: a scalar, or a homogeneous list of scalars (what Neo4j can store). */
export type PropertyValue = ScalarValue | ScalarValue[];

/** A node's or relationship's properties (never `id` on a node: that is its key). */
export type Properties = Record<string, PropertyValue>;

/**
 * How a request addresses a node: a label and the address text (see `neo4j_values.ts`: the
 * node's string `id`, else its integer `id` in decimal, else its elementId).
 */
export interface NodeRef {
  readonly label: string;
  readonly id: string;
}

/**
 * A node's address in answers: its string `id`, its integer `id` with its type kept (a JSON
 * number, `{"$int": ...}` past 2^53), or, for a node with neither, its elementId.
 */
export type NodeId = string | number | IntValue;

/** A node named in an answer: the label it was reached by, and its address. */
export interface RefView {
  readonly label: string;
  readonly id: NodeId;
}

/** A stored node: `label` is the one it was addressed by, `labels` all of them. */
export interface GraphNode extends RefView {
  readonly labels: string[];
  readonly properties: Properties;
}

/** The key of a relationship: one per (from, type, to). */
export interface EdgeKey {
  readonly from: NodeRef;
  readonly type: string;
  readonly to: NodeRef;
}

/** A stored relationship, its ends as answers name them. */
export interface GraphEdge {
  readonly from: RefView;
  readonly type: string;
  readonly to: RefView;
  readonly properties: Properties;
}

/** Which way a traversal follows relationships. */
export type Direction = "out" | "in" | "both";

/** The result of an upsert: what is stored now, and whether it was new. */
export interface Upserted<T> {
  readonly value: T;
  readonly created: boolean;
}

/** A node upsert, alone or in a batch. */
export interface NodeUpsert extends NodeRef {
  readonly properties: Properties;
}

/** An edge upsert, alone or in a batch. */
export interface EdgeUpsert extends EdgeKey {
  readonly properties?: Properties | undefined;
  /** Refuse the edge when it would close a cycle of its type. */
  readonly rejectCycle?: boolean | undefined;
}

/** One item of a batch. */
export type BatchItem =
  | ({ readonly op: "node" } & NodeUpsert)
  | ({ readonly op: "edge" } & EdgeUpsert);

/** What a batch did, item by item. */
export interface BatchResult {
  readonly results: { readonly op: "node" | "edge"; readonly created: boolean }[];
}

/** Options of {@linkcode GraphDriver.findNodes}. */
export interface FindNodesOptions {
  /** Property equality filters; each value matches as a string or as the number/boolean it spells. */
  readonly where?: Readonly<Record<string, string>>;
  /** Page size. */
  readonly limit: number;
  /** Only nodes after this position (the previous page's `next`, opaque to the caller). */
  readonly after?: string;
}

/** A page of nodes, ordered by id. */
export interface NodePage {
  readonly nodes: GraphNode[];
  /**
   * Where the next page starts (`after` for it: the position of this page's last node, its id
   * on the embedded drivers), when there is one; the
   * route turns it into the opaque listing cursor.
   */
  readonly next?: string;
}

/** Options of {@linkcode GraphDriver.neighbors}. */
export interface NeighborOptions {
  /** Relationship type to follow; every type when left out. */
  readonly type?: string;
  readonly direction: Direction;
  /** Hops, 1..maxDepth. */
  readonly depth: number;
  /** At most this many neighbours (nearest first). */
  readonly limit: number;
}

/** A node reached by a traversal and its distance in hops. */
export interface Neighbor extends GraphNode {
  readonly distance: number;
}

/** The neighbours of a node, nearest first (then by label and id). */
export interface NeighborList {
  readonly neighbors: Neighbor[];
  /** True when more neighbours exist than `limit`. */
  readonly truncated: boolean;
}

/** Options of {@linkcode GraphDriver.shortestPath}. */
export interface PathOptions {
  readonly type?: string;
  readonly direction: Direction;
  /** Longest path searched, 1..maxDepth. */
  readonly maxDepth: number;
}

/** A path: nodes in order and the relationships between them (each in its stored direction). */
export interface GraphPath {
  readonly nodes: GraphNode[];
  readonly relationships: GraphEdge[];
}

/** Options of {@linkcode GraphDriver.cycles}. */
export interface CycleOptions {
  readonly type: string;
  /** Longest cycle searched, 1..maxDepth. */
  readonly maxLength: number;
  readonly limit: number;
}

/**
 * A cycle as its nodes in order, closed (the first node repeats at the end), rotated so the
 * smallest `label:id` comes first.
 */
export type Cycle = RefView[];

/** The answer of a read-only Cypher query. */
export interface CypherResult {
  readonly columns: string[];
  readonly rows: Record<string, unknown>[];
  /** True when the query returned more rows than the limit. */
  readonly truncated: boolean;
}

/** Capabilities not every backend has; the contract suite runs a feature's block only where declared. */
export type GraphFeature = "cypher";

/** A graph backend. Every method validates labels and types itself before using them. */
export interface GraphDriver extends AsyncDisposable {
  /** Capabilities beyond the common interface. */
  readonly features: ReadonlySet<GraphFeature>;
  /** Connects and prepares the backend (constraints); idempotent and cheap when connected. */
  connect(): Promise<void>;
  /** Cheap health probe. */
  ping(): Promise<HealthReport>;

  /** Creates or replaces a node's properties. */
  upsertNode(node: NodeUpsert): Promise<Upserted<GraphNode>>;
  /** The node, or `undefined`. */
  getNode(ref: NodeRef): Promise<GraphNode | undefined>;
  /** Deletes a node and its relationships; false when there was none. */
  deleteNode(ref: NodeRef): Promise<boolean>;
  /** Nodes of a label, filtered by property equality, ordered by id. */
  findNodes(label: string, options: FindNodesOptions): Promise<NodePage>;

  /**
   * Creates a relationship or replaces its properties. Throws `graph.node_not_found` when an end
   * is missing and `graph.cycle_rejected` when `rejectCycle` is set and it would close a cycle.
   */
  upsertEdge(edge: EdgeUpsert): Promise<Upserted<GraphEdge>>;
  /** Deletes a relationship; false when there was none. */
  deleteEdge(key: EdgeKey): Promise<boolean>;

  /** Nodes reachable within `depth` hops, each with its distance; undefined when `ref` is missing. */
  neighbors(ref: NodeRef, options: NeighborOptions): Promise<NeighborList | undefined>;
  /**
   * A shortest path, or `undefined` when none exists within `maxDepth`. Throws
   * `graph.node_not_found` when an end is missing.
   */
  shortestPath(from: NodeRef, to: NodeRef, options: PathOptions): Promise<GraphPath | undefined>;
  /** Simple cycles of one relationship type. */
  cycles(options: CycleOptions): Promise<Cycle[]>;
  /** Applies every item in one transaction: all or nothing. */
  batch(items: readonly BatchItem[]): Promise<BatchResult>;

  /** Runs a read-only Cypher query (feature `cypher` only). */
  cypher?(
    query: string,
    params: Readonly<Record<string, unknown>>,
    options: { maxRows: number },
  ): Promise<CypherResult>;

  /** Disconnects; safe to call twice. */
  close(): Promise<void>;
}

/** Limits and allowlists every driver enforces the same way. */
export interface GraphLimits {
  /** Allowed node labels; any valid label when left out. */
  readonly labels?: readonly string[];
  /** Allowed relationship types; any valid type when left out. */
  readonly relationships?: readonly string[];
  /** Longest path a cycle check (`rejectCycle`) searches. */
  readonly cycleCheckDepth: number;
}
