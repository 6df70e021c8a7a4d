/**
 * The cache plugin: a key-value cache with TTLs, atomic counters, hashes, batches and fixed-window
 * rate limits behind HTTP, on Redis (or anything speaking its protocol), in process memory, or in
 * process memory kept durable in an SQLite file under the data directory.
 * Its exports offer the same operations to other plugins, and `rateLimit` to the core.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import { provide } from "../../core/plugin.ts";
import { RATE_LIMIT_STORE } from "../../core/rate_limit.ts";
import { KEY_VALUE } from "./capability.ts";
import {
  type CacheConfig,
  MemoryCacheConfig,
  RedisCacheConfig,
  SqliteCacheConfig,
} from "./config.ts";
import type { CacheApi } from "./driver.ts";

/** What `ctx.use("cache")` returns (and what the core counts rate limits with). */
export type CacheExports = CacheApi;

/** The cache plugin definition; its implementation (`plugin.ts`) loads when an instance is enabled. */
export const cachePlugin = lazyPlugin<CacheConfig, CacheExports>({
  type: "cache",
  description:
    "Key-value cache with TTLs, counters, hashes and rate limits (Redis, SQLite or in-memory)",
  config: { redis: RedisCacheConfig, memory: MemoryCacheConfig, sqlite: SqliteCacheConfig },
  provides: [
    provide(RATE_LIMIT_STORE, (cache: CacheExports) => cache),
    provide(KEY_VALUE, (cache: CacheExports) => cache),
  ],
  load: async () => (await import("./plugin.ts")).cacheImplementation,
});
