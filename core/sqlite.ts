/**
 * What every embedded backend on SQLite (`node:sqlite`, built into Deno: no native addon, and it
 * compiles into the binary) shares: opening a database file safely, and committing in groups.
 *
 * - {@linkcode openDatabase} puts the file in WAL mode, sets its durability, refuses a file that
 *   fails its integrity check (naming it and saying what to do, never starting empty instead),
 *   and migrates its schema forward (`PRAGMA user_version`).
 * - {@linkcode CommitQueue} is group commit: writes that arrive within one turn of the event loop
 *   share one transaction, and each resolves only once that transaction is committed. A 2xx
 *   therefore means "in the WAL": it survives `kill -9` with `durability: normal`, and power loss
 *   as well with `durability: fsync` (one fsync per group, not per write).
 */
import { DatabaseSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import { z } from "zod";
import { PermanentStartError } from "./plugin.ts";

/** `normal`: survives a crash of edgebox; `fsync`: also survives a crash of the machine. */
export type Durability = "normal" | "fsync";

/** The `durability` field of an embedded backend's config. */
export const DurabilityConfig = z.enum(["normal", "fsync"]).default("normal").describe(
  "normal: an acknowledged write survives a crash of edgebox (kill -9); fsync: also a power " +
    "loss, at the cost of one fsync per group commit",
);

/** One step of a schema: SQL to run, or a function for what SQL alone cannot do. */
export type Migration = string | ((db: DatabaseSync) => void);

/** Options of {@linkcode openDatabase}. */
export interface DatabaseOptions {
  durability: Durability;
  /** Step `i` takes the schema from version `i` to `i + 1`; the last one is the current schema. */
  migrations: readonly Migration[];
}

/** A data file edgebox will not start on: damaged, not a database, or from a newer edgebox. */
export class DataFileError extends PermanentStartError {
  override readonly name = "DataFileError";
}

/** Opens (creating if needed) an SQLite file ready for one writer, or throws a DataFileError. */
export function openDatabase(file: string, options: DatabaseOptions): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { timeout: 5_000 });
    const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
    if (mode.journal_mode.toLowerCase() !== "wal") {
      throw new Error(`cannot use WAL mode (got ${mode.journal_mode})`);
    }
    db.exec(
      `PRAGMA synchronous = ${options.durability === "fsync" ? "FULL" : "NORMAL"};` +
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    );
    const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0]!.quick_check !== "ok") {
      throw new DamagedFile(check.slice(0, 3).map((row) => row.quick_check).join("; "));
    }
    migrate(db, file, options.migrations);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof DataFileError) throw error;
    const message = (error as Error).message ?? String(error);
    if (error instanceof DamagedFile || /not a database|malformed|corrupt/i.test(message)) {
      throw new DataFileError(
        `The data file ${file} is damaged (${message}). edgebox will not start on it: restore ` +
          "it from a backup (edgebox backup; see the README's Backups), or move it aside to " +
          "start this instance empty.",
        { cause: error },
      );
    }
    throw error;
  }
}

class DamagedFile extends Error {}

function migrate(db: DatabaseSync, file: string, migrations: readonly Migration[]): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  if (version > migrations.length) {
    throw new DataFileError(
      `The data file ${file} has schema version ${version}, newer than this edgebox knows ` +
        `(${migrations.length}). Run the edgebox that wrote it, or restore a backup taken by ` +
        "this version.",
    );
  }
  for (let step = version; step < migrations.length; step++) {
    const migration = migrations[step]!;
    db.exec("BEGIN IMMEDIATE");
    try {
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${step + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

/** Options of {@linkcode CommitQueue}. */
export interface CommitQueueOptions {
  /**
   * Runs inside each group's transaction just before it commits: a write-behind store writes
   * the rows it marked dirty here.
   */
  beforeCommit?: () => void;
}

interface Group {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/** Group commit over one connection (see the module doc). */
export class CommitQueue {
  readonly #db: DatabaseSync;
  readonly #beforeCommit: (() => void) | undefined;
  #group: Group | undefined;
  #open = false;
  #timer: ReturnType<typeof setImmediate> | undefined;
  #commits = 0;
  #writes = 0;

  constructor(db: DatabaseSync, options: CommitQueueOptions = {}) {
    this.#db = db;
    this.#beforeCommit = options.beforeCommit;
  }

  /** Transactions committed and writes in them, so far (benchmarks show the grouping). */
  get stats(): { commits: number; writes: number } {
    return { commits: this.#commits, writes: this.#writes };
  }

  /**
   * Runs `write` now, inside the open group transaction, as one unit: if it throws, what it did
   * is rolled back and the error is thrown here. Resolves with its result once the group is
   * committed.
   */
  run<T>(write: () => T): Promise<T> {
    this.#begin();
    this.#db.exec("SAVEPOINT write");
    let result: T;
    try {
      result = write();
      this.#db.exec("RELEASE write");
    } catch (error) {
      this.#db.exec("ROLLBACK TO write; RELEASE write");
      return Promise.reject(error);
    }
    return this.commit().then(() => result);
  }

  /** Resolves once everything written (or marked dirty) so far is committed. */
  commit(): Promise<void> {
    this.#writes++;
    if (!this.#group) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      this.#group = { promise, resolve, reject };
      // Writes from other requests arriving in this turn of the event loop join the group.
      // setImmediate, not setTimeout(0): nested timeouts are clamped to milliseconds, which
      // would cap a sequential writer at a few hundred commits a second.
      this.#timer = setImmediate(() => this.flush());
    }
    return this.#group.promise;
  }

  /** Commits the current group now (`close` calls it; so can a test). */
  flush(): void {
    const group = this.#group;
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#group = undefined;
    this.#timer = undefined;
    if (!group && !this.#open) return;
    try {
      this.#begin();
      this.#beforeCommit?.();
      this.#db.exec("COMMIT");
      this.#open = false;
      this.#commits++;
      group?.resolve();
    } catch (error) {
      if (this.#open) {
        try {
          this.#db.exec("ROLLBACK");
        } catch { /* the transaction may already be gone */ }
      }
      this.#open = false;
      group?.reject(error);
    }
  }

  #begin(): void {
    if (this.#open) return;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#open = true;
  }
}

/**
 * Copies a live database into `target` as one consistent snapshot (`VACUUM INTO`), while its
 * owner keeps writing: WAL lets this reader see one committed state throughout.
 */
export function backupDatabase(source: string, target: string): void {
  const db = new DatabaseSync(source, { readOnly: true, timeout: 5_000 });
  try {
    db.prepare("VACUUM INTO ?").run(target);
  } finally {
    db.close();
  }
}
