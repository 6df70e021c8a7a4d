/**
 * The Redis driver (also Valkey, Dragonfly and anything else speaking the protocol), over
 * ioredis. Nothing waits on a Redis that is gone: the offline queue is off (a command sent
 * while disconnected fails at once), every command has `commandTimeout`, in-flight commands are
 * never resent after a reconnect (an `incr` must not count twice), and reconnects back off to
 * `retryMaxDelay` and go on until the driver is closed.
 *
 * The command timeout is kept by one shared {@linkcode Deadlines} timer rather than ioredis'
 * own, which arms a Node timer per command; and commands are written as they come rather than
 * auto-pipelined: both measured faster under load (bench/cache.ts).
 */
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { Deadlines } from "./deadlines.ts";
import { networkCause } from "../../core/cause.ts";
import { EdgeboxError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { HealthReport, PluginContext } from "../../core/plugin.ts";
import { backoff, messageOf, sleep, withTimeout } from "../../core/timing.ts";
import { driverOptionsOf, type RedisCacheConfig } from "./config.ts";
import { decodeListCursor, encodeCursor, invalidCursor, listingScope } from "./cursor.ts";
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
  type EntityTags,
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
import { cacheError, quoted } from "./errors.ts";
import { entityTag } from "./etag.ts";
import { checkName, INTERNAL, nameProblem, rateLimitName } from "./keys.ts";
import { decodeHash, decodeValue } from "./redis_layout.ts";
import { type ScriptName, SCRIPTS } from "./redis_scripts.ts";
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

/** SCAN calls one listing page may make, so a sparse prefix cannot make a request unbounded. */
const MAX_SCAN_CALLS = 16;
/** How long ioredis waits for a closing socket before destroying it. */
const DISCONNECT_TIMEOUT = 100;
/** Keys one SCAN of `purge` asks for. */
const PURGE_BATCH = 1_000;
/**
 * How long the keys a listing page left over (its spill) are kept after the page that last read
 * them: a cursor idle for longer is `cache.cursor_invalid`.
 */
const SPILL_TTL = 5 * 60_000;
/** Random bytes in a spill's id (base64url in the cursor). */
const SPILL_ID_BYTES = 16;
/** Redis replies the scripts produce (ioredis' `*Buffer` variants: strings come as Buffers). */
type Reply = Buffer | number | null | Reply[];
type Script = (...args: (string | number | Buffer)[]) => Promise<Reply>;

/** Options of {@linkcode RedisCache}. */
export interface RedisCacheOptions extends CacheDriverOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. */
  url: string;
  commandTimeout: number;
  connectTimeout: number;
  /** Longest wait between reconnect attempts. */
  retryMaxDelay: number;
  log?: Logger;
}

/** The options of an instance's Redis cache, from its context. */
export function redisCacheOptions(ctx: PluginContext<RedisCacheConfig>): RedisCacheOptions {
  return {
    ...driverOptionsOf(ctx),
    url: ctx.config.url,
    commandTimeout: ctx.config.commandTimeout,
    connectTimeout: ctx.config.connectTimeout,
    retryMaxDelay: ctx.config.retryMaxDelay,
    log: ctx.log,
  };
}

/**
 * A cache on Redis: one Redis hash per entry under the key prefix (see redis_layout.ts), so a
 * read is one plain command and any client can read or delete an entry with plain commands.
 */
export class RedisCache implements CacheDriver {
  readonly backend = "redis";
  readonly features: ReadonlySet<CacheFeature> = new Set<CacheFeature>(["shared"]);
  readonly #client: Redis;
  readonly #deadlines: Deadlines;
  readonly #scripts: Record<ScriptName, Script>;
  readonly #prefix: string;
  readonly #limits: CacheLimits;
  readonly #defaultTtl: number;
  readonly #where: string;
  readonly #log: Logger | undefined;
  readonly #onLookup: ((hit: boolean) => void) | undefined;
  /** Whether the last connection event was an error (logs one warning per outage). */
  #failing = false;
  /** Why the connection is down (`connection refused to host:port`), while it is. */
  #lastCause: string | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisCacheOptions) {
    this.#prefix = options.keyPrefix;
    this.#limits = options.limits;
    this.#defaultTtl = options.defaultTtl ?? 0;
    this.#where = where(options.url);
    this.#log = options.log;
    this.#onLookup = options.onLookup;
    const maxDelay = options.retryMaxDelay;
    this.#deadlines = new Deadlines(options.commandTimeout);
    this.#client = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: options.connectTimeout,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      disconnectTimeout: DISCONNECT_TIMEOUT,
      // Commands issued in one event-loop turn (one per concurrent request) leave in one
      // write: the socket write was the largest cost of a GET under load (bench/routes.ts).
      enableAutoPipelining: true,
      retryStrategy: (times) => backoff(times - 1, 50, maxDelay),
      scripts: SCRIPTS,
    });
    this.#client.on("error", (error: Error) => this.#onError(error));
    this.#client.on("ready", () => this.#onReady());
    const client = this.#client as unknown as Record<string, Script>;
    this.#scripts = Object.fromEntries(
      Object.keys(SCRIPTS).map((name) => [name, client[`${name}Buffer`]!.bind(this.#client)]),
    ) as Record<ScriptName, Script>;
  }

  async connect(): Promise<void> {
    this.#closing = undefined;
    const status = this.#client.status;
    try {
      // While ioredis is (re)connecting on its own, a ping says whether it got there.
      if (status === "wait" || status === "end") await this.#client.connect();
      await this.#timed(this.#client.ping());
    } catch (error) {
      throw this.#fail(error);
    }
  }

  async ping(): Promise<HealthReport> {
    const status = this.#client.status;
    if (status !== "ready") {
      const cause = this.#lastCause === undefined ? "" : `: ${this.#lastCause}`;
      return { status: "down", detail: `redis at ${this.#where} is ${status}${cause}` };
    }
    try {
      await this.#timed(this.#client.ping());
      return { status: "ready" };
    } catch (error) {
      return {
        status: "down",
        detail: `redis at ${this.#where}: ${
          networkCause(error) ?? this.#lastCause ?? messageOf(error)
        }`,
      };
    }
  }

  async get(key: string): Promise<TaggedEntry | undefined> {
    checkKey(key, this.#limits);
    const name = this.#name(key);
    let fields: Record<string, Buffer>;
    try {
      // One command: value, content type, tag and expiry come back together.
      fields = await this.#timed(this.#client.hgetallBuffer(name));
    } catch (error) {
      if (!isWrongType(error)) throw this.#fail(error, key);
      return await this.#getString(key, name);
    }
    const entry = decodeValue(fields, Date.now());
    if (entry === null) throw this.#fail(wrongTypeError(), key);
    this.#onLookup?.(entry !== undefined);
    return entry;
  }

  /**
   * A plain Redis string under `name` (another client's `SET`, or an entry of an older edgebox),
   * read as an application/octet-stream value: a second round trip, GET and PTTL pipelined.
   */
  async #getString(key: string, name: string): Promise<TaggedEntry | undefined> {
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.#timed(this.#client.pipeline().getBuffer(name).pttl(name).exec());
    } catch (error) {
      throw this.#fail(error, key);
    }
    const [[failed, value], [, pttl]] = replies as [[Error | null, unknown], [unknown, unknown]];
    if (failed) throw this.#fail(failed, key);
    this.#onLookup?.(value !== null);
    if (value === null) return undefined;
    return {
      value: value as Buffer,
      contentType: DEFAULT_CONTENT_TYPE,
      ttlMs: typeof pttl === "number" && pttl > 0 ? pttl : undefined,
      etag: entityTag(value as Buffer, DEFAULT_CONTENT_TYPE),
    };
  }

  async stat(key: string): Promise<CacheEntryInfo | undefined> {
    checkKey(key, this.#limits);
    const reply = await this.#call("edgeboxCacheStat", key, this.#name(key));
    if (reply === null) return undefined;
    const [size, contentType, pttl, etag] = reply as [number, Buffer | null, number, Buffer];
    return {
      size,
      contentType: contentType === null ? DEFAULT_CONTENT_TYPE : contentType.toString(),
      ttlMs: pttl > 0 ? pttl : undefined,
      etag: etag.toString(),
    };
  }

  async set(key: string, value: Uint8Array, options: SetOptions = {}): Promise<SetOutcome> {
    checkKey(key, this.#limits);
    checkValue(value.byteLength, this.#limits);
    checkTtl(options.ttlMs);
    checkContentType(options.contentType);
    const reply = await this.#call(
      "edgeboxCacheSet",
      key,
      this.#name(key),
      bytes(value),
      storedType(options.contentType),
      entityTag(value, options.contentType ?? DEFAULT_CONTENT_TYPE),
      options.ttlMs ?? this.#defaultTtl,
      options.ifAbsent ? "1" : "0",
      ...ifMatchArgs(options.ifMatch),
    );
    return SET_OUTCOMES[reply as number]!;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    checkKey(key, this.#limits);
    if (options.ifMatch === undefined) {
      // One key per entry: a plain DEL removes all of it.
      try {
        return await this.#timed(this.#client.del(this.#name(key))) === 1;
      } catch (error) {
        throw this.#fail(error, key);
      }
    }
    const reply = await this.#call(
      "edgeboxCacheDelete",
      key,
      this.#name(key),
      ...ifMatchArgs(options.ifMatch),
    );
    if (reply === 2) {
      throw cacheError("cache.precondition_failed", {
        detail: `Key ${quoted(key)} does not hold a value with the expected entity tag (If-Match)`,
        field: "ifMatch",
      });
    }
    return reply === 1;
  }

  async incr(key: string, options: IncrOptions = {}): Promise<number> {
    const by = options.by ?? 1;
    checkKey(key, this.#limits);
    checkIncrement(by);
    checkTtl(options.ttlMs);
    return await this.#call(
      "edgeboxCacheIncr",
      key,
      this.#name(key),
      by,
      options.ttlMs ?? this.#defaultTtl,
      COUNTER_CONTENT_TYPE,
    ) as number;
  }

  async getHash(key: string): Promise<HashEntry | undefined> {
    checkKey(key, this.#limits);
    let fields: Record<string, string>;
    try {
      fields = await this.#timed(this.#client.hgetall(this.#name(key)));
    } catch (error) {
      throw this.#fail(error, key);
    }
    const hash = decodeHash(fields, Date.now());
    if (hash === null) throw this.#fail(wrongTypeError(), key);
    this.#onLookup?.(hash !== undefined);
    return hash;
  }

  async patchHash(
    key: string,
    fields: Readonly<Record<string, string | null>>,
    options: PatchHashOptions = {},
  ): Promise<PatchHashResult> {
    checkKey(key, this.#limits);
    checkHashPatch(fields, this.#limits);
    checkTtl(options.ttlMs);
    const sets: string[] = [];
    const deletes: string[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (value === null) deletes.push(name);
      else sets.push(name, value);
    }
    const [size, created] = await this.#call(
      "edgeboxCachePatchHash",
      key,
      this.#name(key),
      options.ttlMs ?? 0,
      this.#defaultTtl,
      this.#limits.maxHashFields,
      sets.length / 2,
      ...sets,
      ...deletes,
    ) as [number, number];
    if (size === -1) {
      throw cacheError("cache.hash_full", {
        detail: `Hash ${
          quoted(key)
        } would hold ${created} fields; the limit is ${this.#limits.maxHashFields}`,
        field: "fields",
        extra: { limit: this.#limits.maxHashFields },
      });
    }
    return { size, created: created === 1 };
  }

  async deleteHashField(key: string, field: string): Promise<boolean> {
    checkKey(key, this.#limits);
    checkName(field, this.#limits.maxFieldBytes, "field", "cache.field_invalid");
    return await this.#call("edgeboxCacheDeleteHashField", key, this.#name(key), field) === 1;
  }

  async batch(request: BatchRequest): Promise<BatchResult> {
    const sets = request.set ?? [];
    const deletes = request.delete ?? [];
    const gets = request.get ?? [];
    const keys: string[] = [];
    const args: (string | number | Buffer)[] = [sets.length, deletes.length, gets.length];
    sets.forEach((item, i) => {
      checkKey(item.key, this.#limits, `set.${i}.key`);
      checkValue(item.value.byteLength, this.#limits, `set.${i}.value`);
      checkTtl(item.ttlMs, `set.${i}.ttl`);
      checkContentType(item.contentType, `set.${i}.contentType`);
      keys.push(this.#name(item.key));
      args.push(
        bytes(item.value),
        storedType(item.contentType),
        entityTag(item.value, item.contentType ?? DEFAULT_CONTENT_TYPE),
        item.ttlMs ?? this.#defaultTtl,
      );
    });
    deletes.forEach((key, i) => {
      checkKey(key, this.#limits, `delete.${i}`);
      keys.push(this.#name(key));
    });
    gets.forEach((key, i) => {
      checkKey(key, this.#limits, `get.${i}`);
      keys.push(this.#name(key));
    });
    const flat = await this.#call(
      "edgeboxCacheBatch",
      undefined,
      keys.length,
      ...keys,
      ...args,
    ) as Reply[];
    let at = 0;
    const result: BatchResult = { set: [], delete: [], get: [] };
    for (let i = 0; i < sets.length; i++) {
      result.set.push(flat[at++] === 1 ? "created" : "replaced");
    }
    for (let i = 0; i < deletes.length; i++) result.delete.push(flat[at++] === 1);
    for (let i = 0; i < gets.length; i++) {
      const [kind, value, contentType, pttl] = flat.slice(at, at += 4) as [
        number,
        Buffer | null,
        Buffer | null,
        number,
      ];
      let found: BatchGet;
      if (kind === 1) {
        found = {
          status: "hit",
          entry: {
            value: value!,
            contentType: contentType === null ? DEFAULT_CONTENT_TYPE : contentType.toString(),
            ttlMs: pttl > 0 ? pttl : undefined,
          },
        };
      } else found = { status: kind === 0 ? "miss" : "wrong_type" };
      this.#onLookup?.(kind === 1);
      result.get.push(found);
    }
    return result;
  }

  async list(options: ListOptions): Promise<ListPage> {
    const prefix = options.prefix ?? "";
    checkPageLimit(options.limit);
    const problem = nameProblem(prefix, this.#limits.maxKeyBytes, 0);
    if (problem !== undefined) {
      throw cacheError("cache.key_invalid", { detail: `prefix ${problem}`, field: "prefix" });
    }
    // The cursor is Redis' SCAN cursor ("" once the scan is complete) and, when a SCAN returned
    // more keys than the page took, the id of the spill list holding the rest (see
    // redis_scripts.ts) with how many of them earlier pages took: a few dozen characters
    // whatever the keys' length, and every key a SCAN returned is listed, once.
    const scope = listingScope("redis", this.#prefix, prefix);
    const position = options.cursor === undefined
      ? { scan: "0", spill: undefined }
      : parseCursor(options.cursor, scope);
    let scan = position.scan;
    const keys: string[] = [];
    /** A spill this page read to its end: deleted once the page is made. */
    let usedUp: string | undefined;
    if (position.spill !== undefined) {
      const { id, offset } = position.spill;
      const reply = await this.#call(
        "edgeboxCacheSpillRead",
        undefined,
        this.#spillName(id),
        prefix,
        offset,
        options.limit,
        SPILL_TTL,
      );
      if (reply === 0) {
        throw invalidCursor(
          `The cursor has expired (a listing left for ${
            SPILL_TTL / 60_000
          } minutes is forgotten); start the listing again without a cursor`,
        );
      }
      if (reply === -1) throw invalidCursor();
      const [items, left] = reply as [Buffer[], number];
      keys.push(...items.map(String));
      if (left > 0) {
        return { keys, cursor: encodeCursor(scope, [scan, id, offset + items.length]) };
      }
      usedUp = id;
    }
    const pending: string[] = [];
    const pattern = `${globEscape(this.#prefix + prefix)}*`;
    for (
      let calls = 0;
      keys.length < options.limit && scan !== "" && calls < MAX_SCAN_CALLS;
      calls++
    ) {
      let next: string;
      let batch: string[];
      try {
        [next, batch] = await this.#timed(this.#client.scan(
          scan,
          "MATCH",
          pattern,
          "COUNT",
          Math.max(options.limit - keys.length, 10),
        ));
      } catch (error) {
        throw this.#fail(error);
      }
      scan = next === "0" ? "" : next;
      for (const name of batch) {
        const key = name.slice(this.#prefix.length);
        if (key.startsWith(INTERNAL)) continue;
        if (keys.length < options.limit) keys.push(key);
        else pending.push(key);
      }
    }
    let cursor: string | undefined;
    if (pending.length > 0) {
      const spill = crypto.getRandomValues(new Uint8Array(SPILL_ID_BYTES))
        .toBase64({ alphabet: "base64url", omitPadding: true });
      await this.#call(
        "edgeboxCacheSpillWrite",
        undefined,
        this.#spillName(spill),
        SPILL_TTL,
        prefix,
        ...pending,
      );
      cursor = encodeCursor(scope, [scan, spill, 0]);
    } else if (scan !== "") {
      cursor = encodeCursor(scope, [scan]);
    }
    // Only now: had this page failed, its cursor, asked for again, would still find the spill.
    if (usedUp !== undefined) {
      try {
        await this.#timed(this.#client.unlink(this.#spillName(usedUp)));
      } catch (error) {
        throw this.#fail(error);
      }
    }
    return { keys, cursor };
  }

  async rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    checkRateLimit(key, limit, windowMs, this.#limits);
    const [count, pttl] = await this.#call(
      "edgeboxCacheRateLimit",
      key,
      this.#name(rateLimitName(key)),
      windowMs,
    ) as [number, number];
    return {
      allowed: count <= limit,
      remaining: Math.max(0, limit - count),
      resetMs: Math.max(0, pttl),
      limit,
    };
  }

  async purge(): Promise<number> {
    const pattern = `${globEscape(this.#prefix)}*`;
    let cursor = "0";
    let removed = 0;
    try {
      do {
        const [next, names] = await this.#timed(this.#client.scan(
          cursor,
          "MATCH",
          pattern,
          "COUNT",
          PURGE_BATCH,
        ));
        if (names.length > 0) removed += await this.#timed(this.#client.unlink(...names));
        cursor = next;
      } while (cursor !== "0");
    } catch (error) {
      throw this.#fail(error);
    }
    return removed;
  }

  close(): Promise<void> {
    this.#closing ??= this.#disconnect().finally(() => this.#deadlines.close());
    return this.#closing;
  }

  /** `command`, failing once it has taken longer than `commandTimeout`. */
  #timed<T>(command: Promise<T>): Promise<T> {
    return this.#deadlines.run(
      command,
      () => new Error(`Command timed out after ${this.#deadlines.timeout}ms`),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #disconnect(): Promise<void> {
    const client = this.#client;
    if (client.status === "end") return;
    if (client.status === "reconnecting" || client.status === "close") {
      // No live socket, only a reconnect timer: disconnect() clears it and no "end" follows,
      // but ioredis still arms its destroy timer for the dead socket; let that one run out.
      client.disconnect();
      await sleep(DISCONNECT_TIMEOUT + 10);
      return;
    }
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    if (client.status === "ready") {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    } else {
      client.disconnect();
    }
    // "end" follows the socket's close; wait for it so no handle outlives the driver.
    await withTimeout(() => ended, 2_000, "Closing the redis connection").catch(() => {});
  }

  /** Runs a script; `key` (for messages) names the user key it works on. */
  async #call(
    script: ScriptName,
    key: string | undefined,
    ...args: (string | number | Buffer)[]
  ): Promise<Reply> {
    try {
      return await this.#timed(this.#scripts[script](...args));
    } catch (error) {
      throw this.#fail(error, key);
    }
  }

  #name(key: string): string {
    return this.#prefix + key;
  }

  /**
   * Where a listing's spill lives: an internal name (it starts with NUL, so no user key can take
   * it and listings skip it), under the key prefix so `purge` removes it too.
   */
  #spillName(id: string): string {
    return `${this.#prefix}${INTERNAL}ls:${id}`;
  }

  /** Wraps an ioredis error in the cache's own code, keeping it as `cause`. */
  #fail(error: unknown, key?: string): EdgeboxError {
    if (error instanceof EdgeboxError) return error;
    const message = messageOf(error);
    const subject = key === undefined ? "" : ` for key ${quoted(key)}`;
    if ((error as { name?: string } | null)?.name !== "ReplyError") {
      // No reply at all: refused, reset, timed out, or not connected (offline queue is off), in
      // which case ioredis' own message says nothing the connection's last error does not.
      const cause = networkCause(error) ?? this.#lastCause ?? message;
      return cacheError.unavailable(`Cannot reach redis at ${this.#where}: ${cause}`, error);
    }
    if (message.includes("WRONGTYPE")) {
      return cacheError("cache.wrong_type", {
        detail: `${key === undefined ? "A key" : `Key ${quoted(key)}`} holds another kind of value`,
        cause: error,
      });
    }
    if (/not an integer|out of range|would overflow/.test(message)) {
      return cacheError("cache.not_integer", {
        detail: `The value${subject} is not an integer (or the result would overflow)`,
        cause: error,
      });
    }
    if (message.startsWith("OOM")) {
      return cacheError("cache.full", {
        detail: `redis at ${this.#where} is out of memory (maxmemory reached)`,
        cause: error,
      });
    }
    if (/^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)/.test(message)) {
      return cacheError.unavailable(
        `redis at ${this.#where} cannot serve requests: ${message}`,
        error,
      );
    }
    return cacheError("cache.backend_error", {
      detail: `redis at ${this.#where} refused a command${subject}`,
      cause: error,
    });
  }

  #onError(error: Error): void {
    this.#lastCause = networkCause(error) ?? error.message;
    // ioredis reports every failed reconnect; one warning per outage is enough.
    if (!this.#failing) {
      this.#failing = true;
      this.#log?.warn("redis connection lost; reconnecting", {
        redis: this.#where,
        error: error.message,
      });
    } else {
      this.#log?.debug("redis reconnect failed", { redis: this.#where, error: error.message });
    }
  }

  #onReady(): void {
    if (this.#failing) this.#log?.info("redis connection restored", { redis: this.#where });
    this.#failing = false;
    this.#lastCause = undefined;
  }
}

/** Whether `error` is Redis' WRONGTYPE reply. */
function isWrongType(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === "ReplyError" &&
    messageOf(error).startsWith("WRONGTYPE");
}

/** A WRONGTYPE reply as Redis would give it, for a key whose hash holds the other kind. */
function wrongTypeError(): Error {
  const error = new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
  error.name = "ReplyError";
  return error;
}

/** `host:port` of a Redis URL, without credentials (for messages and logs). */
function where(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 6379}`;
  } catch {
    return "(invalid url)";
  }
}

/** What the set script's reply (0 to 3) means. */
const SET_OUTCOMES: readonly SetOutcome[] = [
  "exists",
  "created",
  "replaced",
  "precondition_failed",
];

/** An If-Match condition as the scripts take it (see IF_MATCH in redis_scripts.ts). */
function ifMatchArgs(tags: EntityTags | undefined): string[] {
  if (tags === undefined) return ["0"];
  if (tags === "*") return ["*"];
  return ["L", ...tags];
}

/** A value as ioredis sends it unchanged (a plain Uint8Array would be stringified). */
function bytes(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** What the scripts store as a content type: '' means the default, which is not stored. */
function storedType(contentType: string | undefined): string {
  return contentType === undefined || contentType === DEFAULT_CONTENT_TYPE ? "" : contentType;
}

/** Where a listing cursor stands: the SCAN cursor, and the spill being read, if any. */
interface ListPosition {
  scan: string;
  spill: { id: string; offset: number } | undefined;
}

/** Reads a cursor `list` made for `scope`: `[scan]` or `[scan, spill id, offset]`. */
function parseCursor(cursor: string, scope: string): ListPosition {
  const parts = decodeListCursor(cursor, scope);
  if (!Array.isArray(parts)) throw invalidCursor();
  const [scan, id, offset] = parts as unknown[];
  if (typeof scan !== "string" || !/^\d{0,20}$/.test(scan)) throw invalidCursor();
  if (parts.length === 1) {
    if (scan === "") throw invalidCursor(); // a finished listing has no cursor
    return { scan, spill: undefined };
  }
  if (
    parts.length !== 3 || typeof id !== "string" || !SPILL_ID.test(id) ||
    typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0
  ) {
    throw invalidCursor();
  }
  return { scan, spill: { id, offset } };
}

/** A spill id as `list` makes it. */
const SPILL_ID = /^[A-Za-z0-9_-]{22}$/;

/** Escapes Redis glob characters so a prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

RedisCache satisfies new (options: RedisCacheOptions) => CacheDriver;
