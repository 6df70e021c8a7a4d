/**
 * The SQLite graph's tables: their schema, loading every stored record into a
 * {@linkcode MemoryGraph}, and writing one node or relationship back (upsert or delete).
 *
 * Nodes and relationships are rows keyed like the memory graph keys them (label and id; from,
 * type and to), with their properties as JSON text. They are plain rowid tables, loaded in rowid
 * order, so a restart rebuilds the adjacency maps in about the order the writes made them, and a
 * traversal that has several equally short answers tends to give the same one as before.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Migration } from "../../core/sqlite.ts";
import type { EdgeKey, NodeRef, Properties } from "./driver.ts";
import type { MemoryGraph, StoredEdge, StoredNode } from "./memory.ts";

/** Step `i` takes the schema from version `i` to `i + 1`. */
export const GRAPH_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE nodes (
     label TEXT NOT NULL,
     id TEXT NOT NULL,
     properties TEXT NOT NULL,
     PRIMARY KEY (label, id)
   );
   CREATE TABLE edges (
     from_label TEXT NOT NULL,
     from_id TEXT NOT NULL,
     type TEXT NOT NULL,
     to_label TEXT NOT NULL,
     to_id TEXT NOT NULL,
     properties TEXT NOT NULL,
     PRIMARY KEY (from_label, from_id, type, to_label, to_id)
   );`,
];

/** Rows read per query while loading. */
const LOAD_PAGE = 10_000;

/** A stored record the graph cannot take back: the file is damaged or was edited by hand. */
export class DamagedRecord extends Error {
  override readonly name = "DamagedRecord";
}

/** Prepared statements over one open graph database. */
export class GraphStore {
  readonly #db: DatabaseSync;
  readonly #putNode: StatementSync;
  readonly #deleteNode: StatementSync;
  readonly #putEdge: StatementSync;
  readonly #deleteEdge: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    // ON CONFLICT ... DO UPDATE keeps the row (and its rowid, hence its place in the load order).
    this.#putNode = db.prepare(
      "INSERT INTO nodes (label, id, properties) VALUES (?, ?, ?) " +
        "ON CONFLICT (label, id) DO UPDATE SET properties = excluded.properties",
    );
    this.#deleteNode = db.prepare("DELETE FROM nodes WHERE label = ? AND id = ?");
    this.#putEdge = db.prepare(
      "INSERT INTO edges (from_label, from_id, type, to_label, to_id, properties) " +
        "VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (from_label, from_id, type, to_label, to_id) " +
        "DO UPDATE SET properties = excluded.properties",
    );
    this.#deleteEdge = db.prepare(
      "DELETE FROM edges WHERE from_label = ? AND from_id = ? AND type = ? AND to_label = ? " +
        "AND to_id = ?",
    );
  }

  /** Restores every stored node, then every relationship, into `graph`. */
  loadInto(graph: MemoryGraph): void {
    for (const [, label, id, properties] of this.#scan("label, id, properties", "nodes")) {
      graph.restoreNode({
        label: label as string,
        id: id as string,
        properties: decode(properties as string),
      });
    }
    const columns = "from_label, from_id, type, to_label, to_id, properties";
    for (
      const [, fromLabel, fromId, type, toLabel, toId, properties] of this.#scan(columns, "edges")
    ) {
      const edge = {
        from: { label: fromLabel as string, id: fromId as string },
        type: type as string,
        to: { label: toLabel as string, id: toId as string },
        properties: decode(properties as string),
      };
      try {
        graph.restoreEdge(edge);
      } catch (error) {
        throw new DamagedRecord((error as Error).message, { cause: error });
      }
    }
  }

  /**
   * Every row of a table in rowid order, as arrays (rowid, then `columns`), a page at a time: `all()` with
   * array rows is several times faster than `iterate()` with object rows, and pages keep a large
   * graph from being held twice (rows and graph) while it loads.
   */
  *#scan(columns: string, table: "nodes" | "edges"): Iterable<unknown[]> {
    const page = this.#db.prepare(
      `SELECT rowid, ${columns} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${LOAD_PAGE}`,
    );
    // Deno's node:sqlite has it (Node 22.16+ API), its bundled type declarations not yet.
    (page as StatementSync & { setReturnArrays(enabled: boolean): void }).setReturnArrays(true);
    let after = 0;
    for (;;) {
      const rows = page.all(after) as unknown as unknown[][];
      yield* rows;
      if (rows.length < LOAD_PAGE) return;
      after = rows.at(-1)![0] as number;
    }
  }

  /** Stores a node's current state. */
  putNode(node: StoredNode): void {
    this.#putNode.run(node.label, node.id, encode(node.properties));
  }

  deleteNode(ref: NodeRef): void {
    this.#deleteNode.run(ref.label, ref.id);
  }

  /** Stores a relationship's current state. */
  putEdge(edge: StoredEdge): void {
    this.#putEdge.run(
      edge.from.label,
      edge.from.id,
      edge.type,
      edge.to.label,
      edge.to.id,
      encode(edge.properties),
    );
  }

  deleteEdge(key: EdgeKey): void {
    this.#deleteEdge.run(key.from.label, key.from.id, key.type, key.to.label, key.to.id);
  }
}

/**
 * Properties as JSON text that parses back to exactly the same values: `JSON.stringify` would
 * write -0 as `0`, so numbers are written one by one (values are scalars, typed values and lists
 * of those, and keys are identifiers or typed-value keys, so key order survives too). Typed
 * values are stored as the same one-key objects the API speaks, so rows written before they
 * existed read as they always did.
 */
export function encode(properties: Properties): string {
  return json(properties);
}

function json(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : JSON.stringify(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(json).join(",")}]`;
  let text = "";
  for (const [key, item] of Object.entries(value)) {
    text += `${text ? "," : ""}${JSON.stringify(key)}:${json(item)}`;
  }
  return `{${text}}`;
}

/** Parses stored properties; anything but a JSON object throws a {@linkcode DamagedRecord}. */
export function decode(text: string): Properties {
  if (text === "{}") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DamagedRecord(`stored properties are not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DamagedRecord(`stored properties are not a JSON object: ${text.slice(0, 40)}`);
  }
  return value as Properties;
}
