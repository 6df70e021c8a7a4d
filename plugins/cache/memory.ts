/**
 * The embedded cache: entries in process memory with TTLs, bounded by `maxEntries` and
 * `maxBytes` (least recently used evicted first). Every operation runs synchronously inside one
 * call, so each is atomic without locks, as a Redis command or script is.
 *
 * It is also the working set of the SQLite cache (sqlite.ts): `onChange` names every key whose
 * entry changed, for whatever reason, and {@linkcode MemoryCache.snapshotEntry} and
 * {@linkcode MemoryCache.restoreEntry} move entries in and out as plain records.
 */
import type { HealthReport, PluginContext } from "../../core/plugin.ts";
import { driverOptionsOf, type MemoryCacheConfig, type SqliteCacheConfig } from "./config.ts";
import {
  type BatchGet,
  type BatchRequest,
  type BatchResult,
  type CacheDriver,
  type CacheDriverOptions,
  type CacheEntryInfo,
  type CacheFeature,
  type CacheLimits,
  COUNTER_CONTENT_TYPE,
  DEFAULT_CONTENT_TYPE,
  type DeleteOptions,
  type HashEntry,
  type IncrOptions,
  type ListOptions,
  type ListPage,
  type PatchHashOptions,
  type PatchHashResult,
  type RateLimitResult,
  type SetOptions,
  type SetOutcome,
  type TaggedEntry,
} from "./driver.ts";
import { decodeListCursor, encodeCursor, invalidCursor, listingScope } from "./cursor.ts";
import { cacheError, quoted } from "./errors.ts";
import { entityTag, ifMatchHolds } from "./etag.ts";
import { checkName, INTERNAL, nameProblem, rateLimitName, utf8Length } from "./keys.ts";
import {
  checkContentType,
  checkHashPatch,
  checkIncrement,
  checkKey,
  checkPageLimit,
  checkRateLimit,
  checkTtl,
  checkValue,
} from "./validate.ts";

/** Bytes charged per entry and per hash field on top of their contents (bookkeeping). */
const ENTRY_OVERHEAD = 64;
const FIELD_OVERHEAD = 16;
/** Entries the sweeper looks at per tick, so a tick never stalls the event loop. */
const SWEEP_BATCH = 1_000;
/** A Redis-compatible integer: no sign on zero, no leading zeros, at most 19 digits. */
const INTEGER = /^(0|-?[1-9][0-9]{0,18})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface StoredValue {
  kind: "string";
  value: Uint8Array;
  /** `undefined` for {@linkcode DEFAULT_CONTENT_TYPE}. */
  contentType: string | undefined;
  /** Epoch ms; 0 when it never expires. */
  expiresAt: number;
  bytes: number;
  /** Creation order, kept across updates, for listing. */
  seq: number;
  /** Its entity tag, computed on first use; whatever changes `value` clears it. */
  etag: string | undefined;
}

interface StoredHash {
  kind: "hash";
  fields: Map<string, string>;
  expiresAt: number;
  bytes: number;
  seq: number;
}

type Stored = StoredValue | StoredHash;

/**
 * An entry as a store outside memory keeps it. `expiresAt` is epoch ms (0: never); `seq` is its
 * creation order, which listing follows; `contentType` is `undefined` for the default.
 */
export type EntryRecord =
  | {
    kind: "string";
    value: Uint8Array;
    contentType: string | undefined;
    expiresAt: number;
    seq: number;
  }
  | { kind: "hash"; fields: [string, string][]; expiresAt: number; seq: number };

/** Options of {@linkcode MemoryCache}. */
export interface MemoryCacheOptions extends CacheDriverOptions {
  maxEntries: number;
  maxBytes: number;
  /** How often expired entries are swept, in ms. */
  sweepInterval: number;
  /** The clock; `Date.now` unless a test needs another. */
  now?: () => number;
  /**
   * Called synchronously with the key of every entry created, modified or removed, whatever the
   * cause (a write, a counter, a hash patch, expiry on read or by the sweeper, LRU eviction,
   * purge), but not when `close` drops everything. A write-behind store marks the key dirty.
   */
  onChange?: (key: string) => void;
}

/** The options of an instance's memory cache (or SQLite cache's working set), from its context. */
export function memoryCacheOptions(
  ctx: PluginContext<MemoryCacheConfig | SqliteCacheConfig>,
): MemoryCacheOptions {
  return {
    ...driverOptionsOf(ctx),
    maxEntries: ctx.config.maxEntries,
    maxBytes: ctx.config.maxBytes,
    sweepInterval: ctx.config.sweepInterval,
  };
}

/** A bounded in-process cache with the same semantics as the Redis driver. */
export class MemoryCache implements CacheDriver {
  readonly backend = "memory";
  readonly features: ReadonlySet<CacheFeature> = new Set<CacheFeature>(["lru"]);
  /** Least recently used first: a read or write moves an entry to the end. */
  readonly #entries = new Map<string, Stored>();
  /** Creation order (`seq` -> key): listing walks it so LRU moves never reorder a listing. */
  readonly #bySeq = new Map<number, string>();
  readonly #options: MemoryCacheOptions;
  readonly #limits: CacheLimits;
  readonly #now: () => number;
  readonly #onChange: ((key: string) => void) | undefined;
  #bytes = 0;
  #seq = 0;
  #open = false;
  #closed = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #sweep: Iterator<[string, Stored]> | undefined;

  constructor(options: MemoryCacheOptions) {
    this.#options = options;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  /** How many entries (internal ones included) and accounted bytes it holds now. */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  connect(): Promise<void> {
    if (this.#open) return Promise.resolve();
    this.#open = true;
    this.#closed = false;
    const sweeper = setInterval(() => this.#sweepSome(), this.#options.sweepInterval);
    // The sweeper alone must not keep a process alive.
    Deno.unrefTimer(sweeper);
    this.#sweeper = sweeper;
    return Promise.resolve();
  }

  ping(): Promise<HealthReport> {
    return Promise.resolve(
      this.#open ? { status: "ready" } : { status: "down", detail: "memory cache is closed" },
    );
  }

  get(key: string): Promise<TaggedEntry | undefined> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      const entry = this.#value(key);
      this.#options.onLookup?.(entry !== undefined);
      if (!entry) return undefined;
      return {
        value: entry.value.slice(),
        contentType: entry.contentType ?? DEFAULT_CONTENT_TYPE,
        ttlMs: this.#ttl(entry),
        etag: etagOf(entry),
      };
    });
  }

  stat(key: string): Promise<CacheEntryInfo | undefined> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      const entry = this.#value(key);
      if (!entry) return undefined;
      return {
        size: entry.value.byteLength,
        contentType: entry.contentType ?? DEFAULT_CONTENT_TYPE,
        ttlMs: this.#ttl(entry),
        etag: etagOf(entry),
      };
    });
  }

  set(key: string, value: Uint8Array, options: SetOptions = {}): Promise<SetOutcome> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      checkValue(value.byteLength, this.#limits);
      checkTtl(options.ttlMs);
      checkContentType(options.contentType);
      const previous = this.#live(key);
      if (options.ifMatch !== undefined && !ifMatchHolds(options.ifMatch, tagOf(previous))) {
        return "precondition_failed";
      }
      if (options.ifAbsent && previous) return "exists";
      this.#write(key, value, options.contentType, options.ttlMs ?? this.#options.defaultTtl);
      return previous ? "replaced" : "created";
    });
  }

  delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      const entry = this.#live(key);
      if (entry && options.ifMatch !== undefined && !ifMatchHolds(options.ifMatch, tagOf(entry))) {
        throw preconditionFailed(key);
      }
      if (entry) this.#remove(key, entry);
      return entry !== undefined;
    });
  }

  incr(key: string, options: IncrOptions = {}): Promise<number> {
    return this.#run(() => {
      const by = options.by ?? 1;
      checkKey(key, this.#limits);
      checkIncrement(by);
      checkTtl(options.ttlMs);
      return Number(this.#increment(key, BigInt(by), options.ttlMs));
    });
  }

  getHash(key: string): Promise<HashEntry | undefined> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      const entry = this.#hash(key);
      this.#options.onLookup?.(entry !== undefined);
      if (!entry) return undefined;
      return { fields: Object.fromEntries(entry.fields), ttlMs: this.#ttl(entry) };
    });
  }

  patchHash(
    key: string,
    fields: Readonly<Record<string, string | null>>,
    options: PatchHashOptions = {},
  ): Promise<PatchHashResult> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      checkHashPatch(fields, this.#limits);
      checkTtl(options.ttlMs);
      const existing = this.#hash(key);
      const current = existing?.fields ?? new Map<string, string>();
      let size = current.size;
      for (const [name, value] of Object.entries(fields)) {
        if (value === null && current.has(name)) size--;
        else if (value !== null && !current.has(name)) size++;
      }
      if (size > this.#limits.maxHashFields) {
        throw cacheError("cache.hash_full", {
          detail: `Hash ${
            quoted(key)
          } would hold ${size} fields; the limit is ${this.#limits.maxHashFields}`,
          field: "fields",
          extra: { limit: this.#limits.maxHashFields },
        });
      }
      if (size === 0) {
        if (existing) this.#remove(key, existing);
        return { size: 0, created: false };
      }
      const entry: StoredHash = existing ?? {
        kind: "hash",
        fields: current,
        expiresAt: 0,
        bytes: 0,
        seq: 0,
      };
      for (const [name, value] of Object.entries(fields)) {
        if (value === null) entry.fields.delete(name);
        else entry.fields.set(name, value);
      }
      const ttl = options.ttlMs ?? (existing ? undefined : this.#options.defaultTtl);
      if (ttl !== undefined) entry.expiresAt = this.#now() + ttl;
      this.#place(key, entry, existing, hashBytes(key, entry.fields));
      return { size, created: !existing };
    });
  }

  deleteHashField(key: string, field: string): Promise<boolean> {
    return this.#run(() => {
      checkKey(key, this.#limits);
      checkName(field, this.#limits.maxFieldBytes, "field", "cache.field_invalid");
      const entry = this.#hash(key);
      if (!entry || !entry.fields.delete(field)) return false;
      if (entry.fields.size === 0) this.#remove(key, entry);
      else this.#place(key, entry, entry, hashBytes(key, entry.fields));
      return true;
    });
  }

  batch(request: BatchRequest): Promise<BatchResult> {
    return this.#run(() => {
      const sets = request.set ?? [];
      const deletes = request.delete ?? [];
      const gets = request.get ?? [];
      // Check everything before writing anything: a batch is applied whole or not at all.
      sets.forEach((item, i) => {
        checkKey(item.key, this.#limits, `set.${i}.key`);
        checkValue(item.value.byteLength, this.#limits, `set.${i}.value`);
        checkTtl(item.ttlMs, `set.${i}.ttl`);
        checkContentType(item.contentType, `set.${i}.contentType`);
      });
      deletes.forEach((key, i) => checkKey(key, this.#limits, `delete.${i}`));
      gets.forEach((key, i) => checkKey(key, this.#limits, `get.${i}`));

      const result: BatchResult = { set: [], delete: [], get: [] };
      for (const item of sets) {
        const existed = this.#live(item.key) !== undefined;
        this.#write(item.key, item.value, item.contentType, item.ttlMs ?? this.#options.defaultTtl);
        result.set.push(existed ? "replaced" : "created");
      }
      for (const key of deletes) {
        const entry = this.#live(key);
        if (entry) this.#remove(key, entry);
        result.delete.push(entry !== undefined);
      }
      for (const key of gets) {
        const entry = this.#live(key);
        let found: BatchGet;
        if (!entry) found = { status: "miss" };
        else if (entry.kind === "hash") found = { status: "wrong_type" };
        else {
          this.#touch(key, entry);
          found = {
            status: "hit",
            entry: {
              value: entry.value.slice(),
              contentType: entry.contentType ?? DEFAULT_CONTENT_TYPE,
              ttlMs: this.#ttl(entry),
            },
          };
        }
        this.#options.onLookup?.(found.status === "hit");
        result.get.push(found);
      }
      return result;
    });
  }

  list(options: ListOptions): Promise<ListPage> {
    return this.#run(() => {
      const prefix = options.prefix ?? "";
      checkPageLimit(options.limit);
      const problem = nameProblem(prefix, this.#limits.maxKeyBytes, 0);
      if (problem !== undefined) {
        throw cacheError("cache.key_invalid", { detail: `prefix ${problem}`, field: "prefix" });
      }
      // The position is the insertion sequence of the last key listed.
      const scope = listingScope("memory", this.#options.keyPrefix, prefix);
      let after = 0;
      if (options.cursor !== undefined) {
        const seq = decodeListCursor(options.cursor, scope);
        if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
          throw invalidCursor();
        }
        after = seq;
      }
      const keys: string[] = [];
      const now = this.#now();
      for (const [seq, key] of this.#bySeq) {
        if (seq <= after) continue;
        const entry = this.#entries.get(key)!;
        if (entry.expiresAt !== 0 && entry.expiresAt <= now) {
          this.#remove(key, entry);
          continue;
        }
        if (key.startsWith(INTERNAL) || !key.startsWith(prefix)) continue;
        keys.push(key);
        if (keys.length === options.limit) return { keys, cursor: encodeCursor(scope, seq) };
      }
      return { keys, cursor: undefined };
    });
  }

  rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    return this.#run(() => {
      checkRateLimit(key, limit, windowMs, this.#limits);
      const name = rateLimitName(key);
      const count = Number(this.#increment(name, 1n, windowMs));
      const entry = this.#entries.get(name)!;
      return {
        allowed: count <= limit,
        remaining: Math.max(0, limit - count),
        resetMs: Math.max(0, entry.expiresAt - this.#now()),
        limit,
      };
    });
  }

  purge(): Promise<number> {
    const count = this.#entries.size;
    const removed = this.#onChange ? [...this.#entries.keys()] : [];
    this.#clear();
    for (const key of removed) this.#onChange!(key);
    return Promise.resolve(count);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#open = false;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    // Dropping the working set is not a change of the entries: a store keeps them.
    this.#clear();
    return Promise.resolve();
  }

  /**
   * The entry under `key` as a plain record, expired or not, without touching it; `undefined`
   * when there is none. The record shares the value's bytes: read them, never change them.
   */
  snapshotEntry(key: string): EntryRecord | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.kind === "hash") {
      return {
        kind: "hash",
        fields: [...entry.fields],
        expiresAt: entry.expiresAt,
        seq: entry.seq,
      };
    }
    return {
      kind: "string",
      value: entry.value,
      contentType: entry.contentType,
      expiresAt: entry.expiresAt,
      seq: entry.seq,
    };
  }

  /**
   * Puts back an entry a store kept (taking ownership of its value), before any other write and
   * in ascending `seq` order, so listings keep their order. The bounds hold as for a write: past
   * them the oldest restored entries are evicted (and reported through `onChange`).
   */
  restoreEntry(key: string, record: EntryRecord): void {
    if (record.seq <= this.#seq || this.#entries.has(key)) {
      throw new RangeError(`Cannot restore ${quoted(key)}: entries come back once each, by seq`);
    }
    const entry: Stored = record.kind === "string"
      ? {
        kind: "string",
        value: record.value,
        contentType: record.contentType === DEFAULT_CONTENT_TYPE ? undefined : record.contentType,
        expiresAt: record.expiresAt,
        bytes: 0,
        seq: record.seq,
        etag: undefined,
      }
      : {
        kind: "hash",
        fields: new Map(record.fields),
        expiresAt: record.expiresAt,
        bytes: 0,
        seq: record.seq,
      };
    entry.bytes = entry.kind === "string"
      ? valueBytes(key, entry.value, entry.contentType)
      : hashBytes(key, entry.fields);
    this.#seq = record.seq;
    this.#bySeq.set(entry.seq, key);
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    this.#evict();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #clear(): void {
    this.#entries.clear();
    this.#bySeq.clear();
    this.#bytes = 0;
    this.#sweep = undefined;
  }

  /** Runs one operation, turning its synchronous result or error into a promise. */
  #run<T>(operation: () => T): Promise<T> {
    if (!this.#open) return Promise.reject(cacheError.unavailable("The memory cache is not open"));
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The unexpired entry under `key`, dropping it when it has expired. */
  #live(key: string): Stored | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.#now()) {
      this.#remove(key, entry);
      return undefined;
    }
    return entry;
  }

  /** The value under `key` (touched), `undefined` when absent, 409 when it is a hash. */
  #value(key: string): StoredValue | undefined {
    const entry = this.#live(key);
    if (!entry) return undefined;
    if (entry.kind !== "string") throw wrongType(key, "a hash", "value");
    this.#touch(key, entry);
    return entry;
  }

  /** The hash under `key` (touched), `undefined` when absent, 409 when it is a value. */
  #hash(key: string): StoredHash | undefined {
    const entry = this.#live(key);
    if (!entry) return undefined;
    if (entry.kind !== "hash") throw wrongType(key, "a value", "hash");
    this.#touch(key, entry);
    return entry;
  }

  #increment(key: string, by: bigint, ttlMs: number | undefined): bigint {
    const entry = this.#live(key);
    if (entry && entry.kind !== "string") throw wrongType(key, "a hash", "counter");
    const current = entry ? parseInteger(entry.value) : 0n;
    if (current === undefined) {
      throw cacheError("cache.not_integer", {
        detail: `The value under ${quoted(key)} is not an integer`,
      });
    }
    const next = current + by;
    if (next < INT64_MIN || next > INT64_MAX) {
      throw cacheError("cache.not_integer", {
        detail: `Incrementing ${quoted(key)} would overflow a 64-bit integer`,
      });
    }
    const value = new TextEncoder().encode(next.toString());
    if (entry) {
      entry.value = value;
      entry.etag = undefined;
      this.#place(key, entry, entry, valueBytes(key, value, entry.contentType));
    } else {
      this.#write(key, value, COUNTER_CONTENT_TYPE, ttlMs ?? this.#options.defaultTtl, false);
    }
    return next;
  }

  /** Stores a value under `key`, replacing what was there (keeping its listing position). */
  #write(
    key: string,
    value: Uint8Array,
    contentType: string | undefined,
    ttlMs: number | undefined,
    copy = true,
  ): void {
    const stored = contentType === DEFAULT_CONTENT_TYPE ? undefined : contentType;
    const entry: StoredValue = {
      kind: "string",
      value: copy ? value.slice() : value,
      contentType: stored,
      expiresAt: ttlMs === undefined ? 0 : this.#now() + ttlMs,
      bytes: 0,
      seq: 0,
      etag: undefined,
    };
    this.#place(key, entry, this.#entries.get(key), valueBytes(key, entry.value, stored));
  }

  /** Puts `entry` last in LRU order with its new size, then evicts down to the bounds. */
  #place(key: string, entry: Stored, previous: Stored | undefined, bytes: number): void {
    if (previous) {
      this.#bytes -= previous.bytes;
      entry.seq = previous.seq;
      this.#entries.delete(key);
    } else {
      entry.seq = ++this.#seq;
      this.#bySeq.set(entry.seq, key);
    }
    entry.bytes = bytes;
    this.#bytes += bytes;
    this.#entries.set(key, entry);
    this.#onChange?.(key);
    this.#evict();
  }

  #touch(key: string, entry: Stored): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }

  #remove(key: string, entry: Stored): void {
    this.#entries.delete(key);
    this.#bySeq.delete(entry.seq);
    this.#bytes -= entry.bytes;
    this.#onChange?.(key);
  }

  /** Drops least recently used entries until both bounds hold (never the newest one). */
  #evict(): void {
    const { maxEntries, maxBytes } = this.#options;
    while (
      (this.#entries.size > maxEntries || this.#bytes > maxBytes) && this.#entries.size > 1
    ) {
      const [key, entry] = this.#entries.entries().next().value!;
      this.#remove(key, entry);
    }
  }

  /** Drops expired entries a batch at a time, resuming where the last tick stopped. */
  #sweepSome(): void {
    const now = this.#now();
    this.#sweep ??= this.#entries.entries();
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const next = this.#sweep.next();
      if (next.done) {
        this.#sweep = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt !== 0 && entry.expiresAt <= now) this.#remove(key, entry);
    }
  }

  #ttl(entry: Stored): number | undefined {
    return entry.expiresAt === 0 ? undefined : Math.max(1, entry.expiresAt - this.#now());
  }
}

/** The tag of a stored value, computed once. */
function etagOf(entry: StoredValue): string {
  entry.etag ??= entityTag(entry.value, entry.contentType ?? DEFAULT_CONTENT_TYPE);
  return entry.etag;
}

/** What `If-Match` compares: a value's tag, `null` for a hash, `undefined` for no entry. */
function tagOf(entry: Stored | undefined): string | null | undefined {
  if (!entry) return undefined;
  return entry.kind === "string" ? etagOf(entry) : null;
}

function preconditionFailed(key: string) {
  return cacheError("cache.precondition_failed", {
    detail: `Key ${quoted(key)} does not hold a value with the expected entity tag (If-Match)`,
    field: "ifMatch",
  });
}

function wrongType(key: string, holds: string, wanted: string) {
  return cacheError("cache.wrong_type", {
    detail: `Key ${quoted(key)} holds ${holds}, not a ${wanted}`,
  });
}

function parseInteger(value: Uint8Array): bigint | undefined {
  if (value.byteLength === 0 || value.byteLength > 20) return undefined;
  const text = String.fromCharCode(...value);
  return INTEGER.test(text) ? BigInt(text) : undefined;
}

function valueBytes(key: string, value: Uint8Array, contentType: string | undefined): number {
  return ENTRY_OVERHEAD + utf8Length(key) + value.byteLength + (contentType?.length ?? 0);
}

function hashBytes(key: string, fields: Map<string, string>): number {
  let bytes = ENTRY_OVERHEAD + utf8Length(key);
  for (const [name, value] of fields) {
    bytes += FIELD_OVERHEAD + utf8Length(name) + utf8Length(value);
  }
  return bytes;
}

MemoryCache satisfies new (options: MemoryCacheOptions) => CacheDriver;
