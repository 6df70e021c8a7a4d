/**
 * Config of the cache plugin: Redis (or anything speaking its protocol), the in-memory store, or
 * the in-memory store kept durable in an SQLite file.
 */
import { z } from "zod";
import type { PluginContext } from "../../core/plugin.ts";
import { DurabilityConfig } from "../../core/sqlite.ts";
import { duration, size } from "../../core/units.ts";
import type { CacheDriverOptions } from "./driver.ts";
import { nameProblem } from "./keys.ts";
import { lookupCounter } from "./lookups.ts";

/** The longest TTL a write may ask for (ten years); longer ones are a mistake, not a wish. */
export const MAX_TTL_MS = 315_360_000_000;

const Ttl = duration().pipe(
  z.number().int().min(1, "A TTL must be at least 1ms").max(
    MAX_TTL_MS,
    "A TTL is at most 10 years",
  ),
);

/** Fields every backend shares: the key space and every limit on what a request may ask for. */
const common = {
  /**
   * Every key this instance touches lives under it, so instances sharing one Redis stay apart.
   * Default: `edgebox:<instance>:`.
   */
  keyPrefix: z.string().refine((prefix) => nameProblem(prefix, 256, 0) === undefined, {
    message: "Expected at most 256 bytes of UTF-8 without control characters",
  }).optional(),
  /** TTL of every write that creates an entry without asking for one; none when left out. */
  defaultTtl: Ttl.optional(),
  /** Largest value (and largest hash field value); 413 above it. */
  maxValueSize: size().pipe(z.number().int().min(1).max(512 * 2 ** 20)).default(2 ** 20),
  /** Longest key, in bytes of UTF-8. */
  maxKeyBytes: z.number().int().min(1).max(4_096).default(512),
  /** Longest hash field name, in bytes of UTF-8. */
  maxFieldBytes: z.number().int().min(1).max(4_096).default(256),
  /** Most fields one hash may hold. */
  maxHashFields: z.number().int().min(1).max(10_000).default(1_024),
  /** Most operations (gets + sets + deletes) in one `POST /batch`. */
  maxBatchSize: z.number().int().min(1).max(1_000).default(100),
  /** Page size of `GET /keys` when the request names none; 100 (or `maxPageSize`, if less). */
  defaultPageSize: z.number().int().min(1).max(10_000).optional(),
  /** The largest page `GET /keys` may ask for. */
  maxPageSize: z.number().int().min(1).max(10_000).default(1_000),
  /**
   * Largest request body. Default: room for a batch carrying one `maxValueSize` value in
   * base64 (4/3 of it) plus 64KiB.
   */
  bodyLimit: size().pipe(z.number().int().min(1)).optional(),
};

const pageSizes = {
  check: (config: { defaultPageSize?: number | undefined; maxPageSize: number }) =>
    (config.defaultPageSize ?? 0) <= config.maxPageSize,
  message: { message: "defaultPageSize must not exceed maxPageSize", path: ["defaultPageSize"] },
};

/** Redis, Valkey, Dragonfly or anything else that speaks the Redis protocol. */
export const RedisCacheConfig = z.strictObject({
  backend: z.literal("redis"),
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: z.string().regex(
    /^rediss?:\/\/[^\s]+$/,
    "Expected a Redis URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0",
  ).default("redis://127.0.0.1:6379"),
  /** A command without a reply within this fails with 503 instead of hanging the request. */
  commandTimeout: duration().pipe(z.number().int().min(1)).default(500),
  /** How long opening the connection may take. */
  connectTimeout: duration().pipe(z.number().int().min(1)).default(2_000),
  /** Longest wait between reconnect attempts after the connection drops (they back off to it). */
  retryMaxDelay: duration().pipe(z.number().int().min(10)).default(2_000),
  ...common,
}).refine(pageSizes.check, pageSizes.message);

/** Fields of the embedded stores: the bounds of the working set in process memory. */
const bounded = {
  /** Most entries held; the least recently used one is evicted past it. */
  maxEntries: z.number().int().min(1).max(100_000_000).default(100_000),
  /** Most bytes held (keys, values and a fixed overhead per entry); LRU eviction past it. */
  maxBytes: size().pipe(z.number().int().min(1_024)).default(64 * 2 ** 20),
  /** How often expired entries are swept (they are also dropped when touched). */
  sweepInterval: duration().pipe(z.number().int().min(10)).default(1_000),
};

const valueFits = {
  check: (config: { maxValueSize: number; maxBytes: number }) =>
    config.maxValueSize < config.maxBytes,
  message: { message: "maxValueSize must be smaller than maxBytes", path: ["maxValueSize"] },
};

/** The embedded store: entries in process memory, bounded by count and bytes (LRU eviction). */
export const MemoryCacheConfig = z.strictObject({
  backend: z.literal("memory"),
  ...bounded,
  ...common,
}).refine(pageSizes.check, pageSizes.message).refine(valueFits.check, valueFits.message);

/**
 * The embedded durable store: the memory store as the working set (same bounds, so everything
 * kept must fit in `maxBytes`), every change written behind to `<dataDir>/<instance>.db`.
 */
export const SqliteCacheConfig = z.strictObject({
  backend: z.literal("sqlite"),
  ...bounded,
  durability: DurabilityConfig,
  ...common,
}).refine(pageSizes.check, pageSizes.message).refine(valueFits.check, valueFits.message);

/** A validated Redis backend config. */
export type RedisCacheConfig = z.output<typeof RedisCacheConfig>;

/** A validated memory backend config. */
export type MemoryCacheConfig = z.output<typeof MemoryCacheConfig>;

/** A validated SQLite backend config. */
export type SqliteCacheConfig = z.output<typeof SqliteCacheConfig>;

/** A validated cache config, of any backend (the core builds the union over `backend`). */
export type CacheConfig = RedisCacheConfig | MemoryCacheConfig | SqliteCacheConfig;

/** The largest request body a config allows (see `bodyLimit`). */
export function bodyLimitOf(config: CacheConfig): number {
  return config.bodyLimit ?? Math.ceil(config.maxValueSize * 4 / 3) + 65_536;
}

/**
 * The options every driver takes, from an instance's context: its key space (its own prefix by
 * default, so two instances sharing one Redis stay apart), its limits and its hit metrics.
 */
export function driverOptionsOf(
  ctx: Pick<PluginContext<CacheConfig>, "name" | "config" | "metrics">,
): CacheDriverOptions {
  const config = ctx.config;
  return {
    keyPrefix: config.keyPrefix ?? `edgebox:${ctx.name}:`,
    limits: {
      maxKeyBytes: config.maxKeyBytes,
      maxFieldBytes: config.maxFieldBytes,
      maxValueSize: config.maxValueSize,
      maxHashFields: config.maxHashFields,
    },
    onLookup: lookupCounter(ctx.metrics),
    ...(config.defaultTtl === undefined ? {} : { defaultTtl: config.defaultTtl }),
  };
}
