/**
 * The durable embedded graph: the in-memory graph ({@linkcode MemoryGraph}) as the working set,
 * rebuilt at start from an SQLite file that records every node and relationship. Traversals
 * (neighbours, shortest paths, cycle checks) therefore keep exactly the memory graph's semantics
 * and speed; only writes touch the file.
 *
 * Writes are write-behind with group commit: the memory graph applies a write at once (a batch
 * or a `rejectCycle` check atomically, as always) and names what it touched; the next group
 * transaction writes those nodes' and relationships' current state and commits, and the write
 * resolves only then. So a 2xx means the write is in the WAL, and a batch lands in one
 * transaction on disk as it does in memory. A commit that fails breaks the driver (ping down,
 * every operation 503) until `connect` reloads the graph from the file, so memory never serves
 * what the disk does not hold for longer than that one failed group.
 */
import type { DatabaseSync } from "node:sqlite";
import type { HealthReport } from "../../core/plugin.ts";
import { CommitQueue, DataFileError, type Durability, openDatabase } from "../../core/sqlite.ts";
import type {
  BatchItem,
  BatchResult,
  Cycle,
  CycleOptions,
  EdgeKey,
  EdgeUpsert,
  FindNodesOptions,
  GraphDriver,
  GraphEdge,
  GraphFeature,
  GraphNode,
  GraphPath,
  NeighborList,
  NeighborOptions,
  NodePage,
  NodeRef,
  NodeUpsert,
  PathOptions,
  Upserted,
} from "./driver.ts";
import { graphError } from "./errors.ts";
import { edgeKeyOf, nodeKey } from "./identifiers.ts";
import { type GraphChange, MemoryGraph, type MemoryGraphOptions } from "./memory.ts";
import { DamagedRecord, GRAPH_MIGRATIONS, GraphStore } from "./sqlite_store.ts";

/** Options of {@linkcode SqliteGraph}: the memory graph's, plus where and how to store it. */
export interface SqliteGraphOptions extends Omit<MemoryGraphOptions, "onChange"> {
  /** The database file's path, asked for at connect (it claims the data directory). */
  readonly file: () => string;
  readonly durability: Durability;
}

/** One open file and the graph loaded from it; a reconnect replaces it whole. */
interface Session {
  readonly db: DatabaseSync;
  readonly graph: MemoryGraph;
  readonly queue: CommitQueue;
  /** Nodes and relationships written since the last commit, by key. */
  readonly dirty: Dirty;
}

interface Dirty {
  readonly nodes: Map<string, NodeRef>;
  readonly edges: Map<string, EdgeKey>;
}

/** Longest commit error kept for ping's detail. */
const MAX_DETAIL = 160;

/** The SQLite-backed graph driver. */
export class SqliteGraph implements GraphDriver {
  readonly features: ReadonlySet<GraphFeature> = new Set();
  readonly #options: SqliteGraphOptions;
  #session: Session | undefined;
  #closed = false;
  /** Why the last commit failed; set until `connect` reloads. */
  #failure: string | undefined;

  constructor(options: SqliteGraphOptions) {
    this.#options = options;
  }

  connect(): Promise<void> {
    try {
      if (this.#session && this.#failure === undefined) {
        this.#closed = false;
        return Promise.resolve();
      }
      // After a failed commit the memory graph may hold writes the file does not: drop it.
      this.#session?.db.close();
      this.#session = undefined;
      this.#session = this.#open();
      this.#failure = undefined;
      this.#closed = false;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  ping(): Promise<HealthReport> {
    if (this.#closed) return Promise.resolve({ status: "down", detail: "closed" });
    if (this.#failure !== undefined) {
      return Promise.resolve({ status: "down", detail: `commit failed: ${this.#failure}` });
    }
    if (!this.#session) return Promise.resolve({ status: "down", detail: "not connected" });
    return this.#session.graph.ping();
  }

  upsertNode(node: NodeUpsert): Promise<Upserted<GraphNode>> {
    return this.#write((graph) => graph.upsertNode(node));
  }

  getNode(ref: NodeRef): Promise<GraphNode | undefined> {
    return this.#read((graph) => graph.getNode(ref));
  }

  deleteNode(ref: NodeRef): Promise<boolean> {
    return this.#write((graph) => graph.deleteNode(ref));
  }

  findNodes(label: string, options: FindNodesOptions): Promise<NodePage> {
    return this.#read((graph) => graph.findNodes(label, options));
  }

  upsertEdge(edge: EdgeUpsert): Promise<Upserted<GraphEdge>> {
    return this.#write((graph) => graph.upsertEdge(edge));
  }

  deleteEdge(key: EdgeKey): Promise<boolean> {
    return this.#write((graph) => graph.deleteEdge(key));
  }

  neighbors(ref: NodeRef, options: NeighborOptions): Promise<NeighborList | undefined> {
    return this.#read((graph) => graph.neighbors(ref, options));
  }

  shortestPath(from: NodeRef, to: NodeRef, options: PathOptions): Promise<GraphPath | undefined> {
    return this.#read((graph) => graph.shortestPath(from, to, options));
  }

  cycles(options: CycleOptions): Promise<Cycle[]> {
    return this.#read((graph) => graph.cycles(options));
  }

  batch(items: readonly BatchItem[]): Promise<BatchResult> {
    return this.#write((graph) => graph.batch(items));
  }

  close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = undefined;
    if (!session) return Promise.resolve();
    try {
      // Commits the group in progress, if any: its writers resolve (or get the 503).
      if (this.#failure === undefined) session.queue.flush();
    } finally {
      session.db.close();
      session.graph.close();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Opens the file and loads it into a fresh memory graph that reports what writes touch. */
  #open(): Session {
    const { file: fileOf, durability, ...limits } = this.#options;
    const file = fileOf();
    const db = openDatabase(file, { durability, migrations: GRAPH_MIGRATIONS });
    try {
      const dirty: Dirty = { nodes: new Map(), edges: new Map() };
      const graph = new MemoryGraph({ ...limits, onChange: (change) => mark(dirty, change) });
      const store = new GraphStore(db);
      try {
        store.loadInto(graph);
      } catch (error) {
        const message = (error as Error).message ?? String(error);
        if (error instanceof DamagedRecord || /malformed|corrupt|not a database/i.test(message)) {
          throw new DataFileError(
            `The data file ${file} holds a graph edgebox cannot load (${message}). edgebox will ` +
              "not start on it: restore it from a backup, or move it aside to start this " +
              "instance empty.",
            { cause: error },
          );
        }
        throw error;
      }
      const queue = new CommitQueue(db, { beforeCommit: () => writeBehind(graph, store, dirty) });
      return { db, graph, queue, dirty };
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The memory graph, or the 503 for a driver that is closed, broken or not connected yet. */
  #live(): Session {
    if (this.#closed) throw graphError.unavailable("The SQLite graph is closed");
    if (this.#failure !== undefined) {
      throw graphError.unavailable(
        `The SQLite graph could not commit (${this.#failure}); it reloads from its file on ` +
          "reconnect",
      );
    }
    if (!this.#session) throw graphError.unavailable("The SQLite graph is not connected");
    return this.#session;
  }

  #read<T>(work: (graph: MemoryGraph) => Promise<T>): Promise<T> {
    try {
      return work(this.#live().graph);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Applies a write to the memory graph, then waits for the group commit that stores it. Both
   * happen in the same synchronous step (the memory graph is synchronous underneath), so no
   * flush or close can run between the change and its joining a group.
   */
  async #write<T>(work: (graph: MemoryGraph) => Promise<T>): Promise<T> {
    const session = this.#live();
    const outcome = work(session.graph);
    const { nodes, edges } = session.dirty;
    // A write that changed nothing (deleting what is not there) has nothing to wait for. A
    // failed batch may have touched rows before undoing them: they are committed as they are
    // now (unchanged), and the batch waits for that, so no commit timer outlives it.
    const committed = nodes.size + edges.size > 0 ? this.#commit(session) : undefined;
    let result: T;
    try {
      result = await outcome;
    } catch (error) {
      await committed?.catch(() => {});
      throw error;
    }
    await committed;
    return result;
  }

  /** The session's next group commit; its failure breaks the driver and answers 503. */
  #commit(session: Session): Promise<void> {
    return session.queue.commit().catch((error: unknown) => {
      const message = String((error as Error)?.message ?? error);
      if (session === this.#session && this.#failure === undefined) {
        this.#failure = message.length > MAX_DETAIL
          ? `${message.slice(0, MAX_DETAIL)}...`
          : message;
      }
      throw graphError.unavailable(
        `The SQLite graph could not commit this write: ${this.#failure ?? message}`,
        error,
      );
    });
  }
}

/** Records a change's key (what it is now is read at commit, so repeats collapse). */
function mark(dirty: Dirty, change: GraphChange): void {
  if (change.kind === "node") {
    dirty.nodes.set(nodeKey(change.ref), change.ref);
  } else {
    const { from, type, to } = change.key;
    dirty.edges.set(edgeKeyOf(from, type, to), { from, type, to });
  }
}

/** Writes every dirty node's and relationship's current state (gone ones are deleted). */
function writeBehind(graph: MemoryGraph, store: GraphStore, dirty: Dirty): void {
  for (const ref of dirty.nodes.values()) {
    const node = graph.nodeSnapshot(ref);
    if (node) store.putNode(node);
    else store.deleteNode(ref);
  }
  for (const key of dirty.edges.values()) {
    const edge = graph.edgeSnapshot(key);
    if (edge) store.putEdge(edge);
    else store.deleteEdge(key);
  }
  dirty.nodes.clear();
  dirty.edges.clear();
}

SqliteGraph satisfies new (options: SqliteGraphOptions) => GraphDriver;
