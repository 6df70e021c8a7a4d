/**
 * What every cache backend does: values with TTLs, atomic counters, hashes, batches, listing by
 * prefix and fixed-window rate limits. Routes and other plugins speak only to this interface;
 * each backend (Redis, in-memory) implements it and passes the same contract suite.
 */
import type { HealthReport } from "../../core/plugin.ts";
import type { EntityTags } from "./etag.ts";

export type { EntityTags } from "./etag.ts";

/**
 * Capabilities that differ between backends. `lru`: entries are evicted, least recently used
 * first, to hold `maxEntries` and `maxBytes`. `shared`: drivers with the same key prefix (in
 * this process or another) see the same entries.
 */
export type CacheFeature = "lru" | "shared";

/** The content type of a value stored without one. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** The content type of a counter created by `incr`. */
export const COUNTER_CONTENT_TYPE = "text/plain; charset=utf-8";

/** A stored value. */
export interface CacheEntry {
  value: Uint8Array;
  contentType: string;
  /** Milliseconds until it expires; `undefined` when it does not. */
  ttlMs: number | undefined;
}

/**
 * A value read by {@linkcode CacheApi.get}, with its entity tag: `"<sha1 hex>"` of the content
 * type, a newline and the bytes (see etag.ts), so equal content always has the same tag.
 */
export interface TaggedEntry extends CacheEntry {
  etag: string;
}

/** What `HEAD` needs: everything about a value but its bytes. */
export interface CacheEntryInfo {
  size: number;
  contentType: string;
  ttlMs: number | undefined;
  /** The same tag {@linkcode CacheApi.get} answers. */
  etag: string;
}

/** Options of {@linkcode CacheDriver.set}. */
export interface SetOptions {
  /** Expiry; the driver's `defaultTtl` when left out. */
  ttlMs?: number;
  /** Stored with the value; {@linkcode DEFAULT_CONTENT_TYPE} when left out. */
  contentType?: string;
  /** Store only when the key holds nothing (`If-None-Match: *`). */
  ifAbsent?: boolean;
  /**
   * Store only when the key's current value has one of these tags, compared strongly, or, for
   * `"*"`, when the key holds anything (`If-Match`). Checked, then written, atomically.
   */
  ifMatch?: EntityTags;
}

/**
 * What a set did. `exists` only answers an `ifAbsent` set that found the key taken;
 * `precondition_failed` only an `ifMatch` set whose tags did not match (or found no key).
 * Neither wrote anything. `ifMatch` is decided first.
 */
export type SetOutcome = "created" | "replaced" | "exists" | "precondition_failed";

/** Options of {@linkcode CacheDriver.delete}. */
export interface DeleteOptions {
  /**
   * Delete only when the key's value has one of these tags (strong comparison), or, for `"*"`,
   * whatever it holds; an existing key that does not match is kept and the delete throws
   * `cache.precondition_failed` (an absent key still answers false).
   */
  ifMatch?: EntityTags;
}

/** Options of {@linkcode CacheDriver.incr}. */
export interface IncrOptions {
  /** Added to the counter (negative subtracts); 1 when left out. */
  by?: number;
  /** Expiry of a counter this call creates (an existing one keeps its own). */
  ttlMs?: number;
}

/** A hash: string fields under one key. */
export interface HashEntry {
  fields: Record<string, string>;
  ttlMs: number | undefined;
}

/** Options of {@linkcode CacheDriver.patchHash}. */
export interface PatchHashOptions {
  /** Expiry of the whole hash; a new hash gets `defaultTtl`, an existing one keeps its own. */
  ttlMs?: number;
}

/** What a hash patch did. */
export interface PatchHashResult {
  /** Fields the hash holds afterwards (0: the hash is gone). */
  size: number;
  created: boolean;
}

/** One write of a batch. */
export interface BatchSet {
  key: string;
  value: Uint8Array;
  contentType?: string;
  ttlMs?: number;
}

/** Several operations in one round trip: sets first, then deletes, then gets. */
export interface BatchRequest {
  set?: readonly BatchSet[];
  delete?: readonly string[];
  get?: readonly string[];
}

/** What one read of a batch found; `wrong_type` when the key holds a hash. */
export type BatchGet =
  | { status: "hit"; entry: CacheEntry }
  | { status: "miss" }
  | { status: "wrong_type" };

/** Results of a batch, in request order within each kind. */
export interface BatchResult {
  set: ("created" | "replaced")[];
  delete: boolean[];
  get: BatchGet[];
}

/** Options of {@linkcode CacheDriver.list}. */
export interface ListOptions {
  /** Only keys starting with it. */
  prefix?: string;
  /** From a previous page; the first page when left out. */
  cursor?: string;
  /** Most keys on the page. */
  limit: number;
}

/**
 * A page of keys. `cursor` is opaque and `undefined` once the listing is complete; a page may be
 * short (even empty) before the end. Keys present for the whole listing appear exactly once.
 */
export interface ListPage {
  keys: string[];
  cursor: string | undefined;
}

/** The verdict of one counted request against a fixed window. */
export interface RateLimitResult {
  allowed: boolean;
  /** Requests left in the window. */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
  limit: number;
}

/** Limits a driver enforces on what callers hand it, whatever the route checked. */
export interface CacheLimits {
  maxKeyBytes: number;
  maxFieldBytes: number;
  maxValueSize: number;
  maxHashFields: number;
}

/** Options every driver takes. */
export interface CacheDriverOptions {
  /** Names live under it (Redis); a memory store is private to its driver anyway. */
  keyPrefix: string;
  /** Expiry of writes that create an entry without asking for one. */
  defaultTtl?: number;
  limits: CacheLimits;
  /** Told whether each read (get, hash get, batch get) found its key; feeds hit metrics. */
  onLookup?: (hit: boolean) => void;
}

/** The operations other plugins (and the core, for `rateLimit`) get from `ctx.use("cache")`. */
export interface CacheApi {
  /** The value under `key` with its tag, or `undefined`. Throws `cache.wrong_type` on a hash. */
  get(key: string): Promise<TaggedEntry | undefined>;
  /** Size, content type, TTL and tag of the value under `key`, or `undefined`. */
  stat(key: string): Promise<CacheEntryInfo | undefined>;
  /** Stores `value`, replacing whatever the key held (unless `ifAbsent` or `ifMatch` say no). */
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<SetOutcome>;
  /** Removes the key (value or hash); true when it existed. See `ifMatch` for conditions. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Adds to an integer counter atomically; throws `cache.not_integer` on other values. */
  incr(key: string, options?: IncrOptions): Promise<number>;
  /** The hash under `key`, or `undefined`. */
  getHash(key: string): Promise<HashEntry | undefined>;
  /** Sets fields (a `null` value removes the field), atomically, within `maxHashFields`. */
  patchHash(
    key: string,
    fields: Readonly<Record<string, string | null>>,
    options?: PatchHashOptions,
  ): Promise<PatchHashResult>;
  /** Removes one field; true when it existed. */
  deleteHashField(key: string, field: string): Promise<boolean>;
  /** Sets, deletes and gets in one round trip. */
  batch(request: BatchRequest): Promise<BatchResult>;
  /** One page of keys, by prefix. */
  list(options: ListOptions): Promise<ListPage>;
  /**
   * Counts one request against `limit` per `windowMs` under `key`, atomically: the first
   * `limit` calls of a window are allowed, later ones refused until it resets.
   */
  rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

/** A cache backend. */
export interface CacheDriver extends CacheApi, AsyncDisposable {
  readonly backend: string;
  readonly features: ReadonlySet<CacheFeature>;
  /** Connects; idempotent and cheap when already connected. */
  connect(): Promise<void>;
  /** Cheap health probe. */
  ping(): Promise<HealthReport>;
  /** Deletes every entry under the key prefix (internal ones too); answers how many. */
  purge(): Promise<number>;
  /** Disconnects; safe to call twice. */
  close(): Promise<void>;
}

/** The operations other plugins may call: not connect, purge or close, which the core owns. */
export function apiOf(cache: CacheApi): CacheApi {
  return {
    get: (key) => cache.get(key),
    stat: (key) => cache.stat(key),
    set: (key, value, options) => cache.set(key, value, options),
    delete: (key, options) => cache.delete(key, options),
    incr: (key, options) => cache.incr(key, options),
    getHash: (key) => cache.getHash(key),
    patchHash: (key, fields, options) => cache.patchHash(key, fields, options),
    deleteHashField: (key, field) => cache.deleteHashField(key, field),
    batch: (request) => cache.batch(request),
    list: (options) => cache.list(options),
    rateLimit: (key, limit, windowMs) => cache.rateLimit(key, limit, windowMs),
  };
}
