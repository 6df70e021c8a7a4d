/**
 * The durable embedded cache: the memory cache (memory.ts) is the working set and answers every
 * operation with exactly its semantics; each change is written behind to an SQLite file, as Redis
 * does with its append-only file. A write resolves only once its change is committed (group
 * commit, core/sqlite.ts), so a 2xx survives a crash; reads never wait. At connect the file is
 * loaded back into memory in creation order, without the entries that expired meanwhile.
 *
 * Since memory holds everything, what the file keeps is bounded by `maxEntries` and `maxBytes`
 * like the memory cache: an entry evicted from memory is deleted from the file too.
 */
import type { DatabaseSync } from "node:sqlite";
import type { HealthReport } from "../../core/plugin.ts";
import { CommitQueue, DataFileError, type Durability, openDatabase } from "../../core/sqlite.ts";
import type {
  BatchRequest,
  BatchResult,
  CacheDriver,
  CacheEntryInfo,
  CacheFeature,
  DeleteOptions,
  HashEntry,
  IncrOptions,
  ListOptions,
  ListPage,
  PatchHashOptions,
  PatchHashResult,
  RateLimitResult,
  SetOptions,
  SetOutcome,
  TaggedEntry,
} from "./driver.ts";
import { cacheError } from "./errors.ts";
import { MemoryCache, type MemoryCacheOptions } from "./memory.ts";
import { CACHE_MIGRATIONS, EntryStore } from "./sqlite_store.ts";

/** Options of {@linkcode SqliteCache}: the working set's, plus where and how durably to write. */
export interface SqliteCacheOptions extends Omit<MemoryCacheOptions, "onChange"> {
  /** The database file, asked for at connect (naming it may claim the data directory). */
  file: () => string;
  durability: Durability;
}

/** What one connect opened: dropped whole on close or after a failed commit. */
interface Session {
  file: string;
  db: DatabaseSync;
  store: EntryStore;
  queue: CommitQueue;
  memory: MemoryCache;
  /** Keys changed since the last commit began. */
  dirty: Set<string>;
  /** The commit the dirty keys will be in, once one is scheduled. */
  pending: Promise<void> | undefined;
}

/** The memory cache, made durable by an SQLite file it writes behind to. */
export class SqliteCache implements CacheDriver {
  readonly backend = "sqlite";
  readonly features: ReadonlySet<CacheFeature> = new Set<CacheFeature>(["lru"]);
  readonly #options: SqliteCacheOptions;
  #session: Session | undefined;
  /** Why the last commit failed; the session is unusable until connect reloads the file. */
  #broken: string | undefined;

  constructor(options: SqliteCacheOptions) {
    this.#options = options;
  }

  /** The working set's entries and bytes, and the commits made so far (0s when closed). */
  get stats(): { entries: number; bytes: number; commits: number } {
    const session = this.#session;
    if (!session) return { entries: 0, bytes: 0, commits: 0 };
    return { ...session.memory.stats, commits: session.queue.stats.commits };
  }

  /** Opens the file and loads it; after a failed commit, drops memory and reloads from disk. */
  async connect(): Promise<void> {
    if (this.#session && this.#broken === undefined) return;
    await this.#drop();
    this.#broken = undefined;
    const file = this.#options.file();
    const db = openDatabase(file, {
      durability: this.#options.durability,
      migrations: CACHE_MIGRATIONS,
    });
    const session = this.#start(file, db);
    try {
      this.#load(session);
      // Rows evicted by the bounds (lowered since they were written) are deleted now.
      if (session.pending) {
        session.queue.flush();
        await session.pending;
      }
      await session.memory.connect();
    } catch (error) {
      // Ends the queue's timer, if a commit is pending, before the file closes under it.
      session.queue.flush();
      await session.memory.close();
      db.close();
      throw error;
    }
    this.#session = session;
  }

  ping(): Promise<HealthReport> {
    if (this.#broken !== undefined) {
      return Promise.resolve({ status: "down", detail: this.#broken });
    }
    return Promise.resolve(
      this.#session ? { status: "ready" } : { status: "down", detail: "sqlite cache is closed" },
    );
  }

  get(key: string): Promise<TaggedEntry | undefined> {
    return this.#read((memory) => memory.get(key));
  }

  stat(key: string): Promise<CacheEntryInfo | undefined> {
    return this.#read((memory) => memory.stat(key));
  }

  set(key: string, value: Uint8Array, options?: SetOptions): Promise<SetOutcome> {
    return this.#write((memory) => memory.set(key, value, options));
  }

  delete(key: string, options?: DeleteOptions): Promise<boolean> {
    return this.#write((memory) => memory.delete(key, options));
  }

  incr(key: string, options?: IncrOptions): Promise<number> {
    return this.#write((memory) => memory.incr(key, options));
  }

  getHash(key: string): Promise<HashEntry | undefined> {
    return this.#read((memory) => memory.getHash(key));
  }

  patchHash(
    key: string,
    fields: Readonly<Record<string, string | null>>,
    options?: PatchHashOptions,
  ): Promise<PatchHashResult> {
    return this.#write((memory) => memory.patchHash(key, fields, options));
  }

  deleteHashField(key: string, field: string): Promise<boolean> {
    return this.#write((memory) => memory.deleteHashField(key, field));
  }

  batch(request: BatchRequest): Promise<BatchResult> {
    return this.#write((memory) => memory.batch(request));
  }

  list(options: ListOptions): Promise<ListPage> {
    return this.#read((memory) => memory.list(options));
  }

  /** Rate-limit windows are entries like any other: a restart neither resets nor forgets them. */
  rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    return this.#write((memory) => memory.rateLimit(key, limit, windowMs));
  }

  purge(): Promise<number> {
    return this.#write((memory) => memory.purge());
  }

  /** Commits what is pending, then closes the file; safe to call twice. */
  async close(): Promise<void> {
    const session = this.#session;
    // After a failed commit the transaction is gone: nothing pending can be committed.
    if (session && this.#broken === undefined) session.queue.flush();
    await this.#drop();
    this.#broken = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** An empty working set over `db`, and the queue that writes it behind. */
  #start(file: string, db: DatabaseSync): Session {
    const store = new EntryStore(db);
    const memory = new MemoryCache({
      ...this.#options,
      onChange: (key) => this.#changed(session, key),
    });
    const session: Session = {
      file,
      db,
      store,
      memory,
      queue: new CommitQueue(db, { beforeCommit: () => this.#writeBehind(session) }),
      dirty: new Set(),
      pending: undefined,
    };
    return session;
  }

  /** Fills the working set with every live row; a row it cannot take means a damaged file. */
  #load(session: Session): void {
    // Entries that expired while edgebox was down are gone, from the file as well.
    session.store.dropExpired((this.#options.now ?? Date.now)());
    try {
      for (const [key, record] of session.store.load()) session.memory.restoreEntry(key, record);
    } catch (error) {
      if (!(error instanceof RangeError || error instanceof SyntaxError)) throw error;
      throw new DataFileError(
        `The data file ${session.file} holds an entry edgebox cannot load (${error.message}). ` +
          "Restore it from a backup, or move it aside to start this instance empty.",
        { cause: error },
      );
    }
  }

  /** Marks `key` dirty and makes sure a commit will write it. */
  #changed(session: Session, key: string): void {
    session.dirty.add(key);
    if (session.pending) return;
    const pending = session.queue.commit();
    session.pending = pending;
    // Background changes (expiry, the sweeper) have nobody awaiting them: failures land here.
    pending.catch((error) => this.#fail(session, error));
  }

  /** Inside the commit's transaction: each dirty key's current state, or its deletion. */
  #writeBehind(session: Session): void {
    // Changes from here on belong to the next commit.
    session.pending = undefined;
    const keys = [...session.dirty];
    session.dirty.clear();
    for (const key of keys) session.store.write(key, session.memory.snapshotEntry(key));
  }

  /** A commit failed (disk full, I/O error): refuse everything until connect reloads the file. */
  #fail(session: Session, error: unknown): void {
    if (this.#session !== session || this.#broken !== undefined) return;
    this.#broken = failure(session, error);
    // Memory now holds changes the file lacks: stop it (the sweeper too) so nothing more is
    // written behind from it; connect starts over from the file.
    void session.memory.close();
  }

  /** Stops the working set and closes the file, keeping nothing. */
  async #drop(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    await session.memory.close();
    try {
      session.db.close();
    } catch { /* a database that failed may already be unusable */ }
  }

  #unavailable(): Error {
    return cacheError.unavailable(this.#broken ?? "The sqlite cache is not open");
  }

  #read<T>(operation: (memory: MemoryCache) => Promise<T>): Promise<T> {
    const session = this.#session;
    if (!session || this.#broken !== undefined) return Promise.reject(this.#unavailable());
    return operation(session.memory);
  }

  /**
   * Runs a write on the working set, then waits for the commit holding it (or, when it changed
   * nothing, for the one holding what it saw), so its answer stands only on committed state.
   */
  async #write<T>(operation: (memory: MemoryCache) => Promise<T>): Promise<T> {
    const session = this.#session;
    if (!session || this.#broken !== undefined) throw this.#unavailable();
    const result = await operation(session.memory);
    if (session.pending) {
      try {
        await session.pending;
      } catch (error) {
        this.#fail(session, error);
        throw cacheError.unavailable(failure(session, error), error);
      }
    }
    return result;
  }
}

/** What a failed commit means, for the waiting writes and the health probe. */
function failure(session: Session, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  return `Cannot write the data file ${session.file}: ${reason}`;
}

SqliteCache satisfies new (options: SqliteCacheOptions) => CacheDriver;
