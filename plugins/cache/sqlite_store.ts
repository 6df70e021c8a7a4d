/**
 * The SQLite cache's record on disk: its schema, loading every live entry back in creation
 * order, and writing one key's current state (an upsert, or a delete when it is gone). It knows
 * rows and records, not caching: the driver (sqlite.ts) decides when to write.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Migration } from "../../core/sqlite.ts";
import type { EntryRecord } from "./memory.ts";

/**
 * The schema, one step per version. Keys are BLOBs of UTF-8 because internal names start with
 * NUL, which a TEXT column would cut off when read back. `fields` holds a hash as JSON pairs (in
 * field order); `expires_at` is epoch ms, 0 for never; `seq` is the creation order listings follow.
 */
export const CACHE_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE entries (
    key BLOB PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('string', 'hash')),
    value BLOB,
    fields TEXT,
    content_type TEXT,
    expires_at INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX entries_by_expiry ON entries (expires_at) WHERE expires_at != 0;`,
];

interface Row {
  key: Uint8Array;
  kind: string;
  value: Uint8Array | null;
  fields: string | null;
  content_type: string | null;
  expires_at: number;
  seq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The `entries` table of one open database. */
export class EntryStore {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;
  readonly #delete: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#upsert = db.prepare(
      "INSERT INTO entries (key, kind, value, fields, content_type, expires_at, seq) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, " +
        "value = excluded.value, fields = excluded.fields, " +
        "content_type = excluded.content_type, expires_at = excluded.expires_at, seq = excluded.seq",
    );
    this.#delete = db.prepare("DELETE FROM entries WHERE key = ?");
  }

  /** Deletes the rows expired at `now` (their entries expired while nobody was running). */
  dropExpired(now: number): number {
    const result = this.#db.prepare(
      "DELETE FROM entries WHERE expires_at != 0 AND expires_at <= ?",
    ).run(now);
    return Number(result.changes);
  }

  /** Every row, oldest first, as the key and record {@linkcode MemoryCache.restoreEntry} takes. */
  *load(): Generator<[string, EntryRecord]> {
    const rows = this.#db.prepare(
      "SELECT key, kind, value, fields, content_type, expires_at, seq FROM entries ORDER BY seq",
    ).iterate() as Iterable<Row>;
    for (const row of rows) {
      const key = decoder.decode(row.key);
      if (row.kind === "hash") {
        const fields = JSON.parse(row.fields ?? "[]") as [string, string][];
        yield [key, { kind: "hash", fields, expiresAt: row.expires_at, seq: row.seq }];
      } else {
        yield [key, {
          kind: "string",
          value: row.value ?? new Uint8Array(0),
          contentType: row.content_type ?? undefined,
          expiresAt: row.expires_at,
          seq: row.seq,
        }];
      }
    }
  }

  /** Writes `record` as the row of `key`, or deletes the row when there is no record. */
  write(key: string, record: EntryRecord | undefined): void {
    const name = encoder.encode(key);
    if (!record) {
      this.#delete.run(name);
    } else if (record.kind === "string") {
      this.#upsert.run(
        name,
        "string",
        record.value,
        null,
        record.contentType ?? null,
        record.expiresAt,
        record.seq,
      );
    } else {
      this.#upsert.run(
        name,
        "hash",
        null,
        JSON.stringify(record.fields),
        null,
        record.expiresAt,
        record.seq,
      );
    }
  }
}
