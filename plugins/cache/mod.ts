/**
 * The cache plugin: a key-value cache with TTLs, atomic counters, hashes, batches and fixed-window
 * rate limits behind HTTP, on Redis (or anything speaking its protocol), in process memory, or in
 * process memory kept durable in an SQLite file under the data directory.
 * Its exports offer the same operations to other plugins, and `rateLimit` to the core.
 */
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin, provide } from "../../core/plugin.ts";
import { RATE_LIMIT_STORE } from "../../core/rate_limit.ts";
import { KEY_VALUE } from "./capability.ts";
import { bodyLimitOf, MemoryCacheConfig, RedisCacheConfig, SqliteCacheConfig } from "./config.ts";
import { apiOf, type CacheApi, type CacheDriver, type CacheFeature } from "./driver.ts";
import { MemoryCache, memoryCacheOptions } from "./memory.ts";
import { SqliteCache } from "./sqlite.ts";
import { cacheRoutes } from "./routes.ts";
import { routeLimitsOf } from "./schemas.ts";

/** What `ctx.use("cache")` returns (and what the core counts rate limits with). */
export type CacheExports = CacheApi;

/** The cache plugin definition. */
export const cachePlugin = definePlugin({
  type: "cache",
  description:
    "Key-value cache with TTLs, counters, hashes and rate limits (Redis, SQLite or in-memory)",
  backends: {
    redis: defineBackend({
      config: RedisCacheConfig,
      system: "redis",
      // ioredis loads only when a Redis cache connects (core/lazy.ts).
      create: (ctx): CacheDriver =>
        lazyDriver<CacheDriver>({
          load: async () => {
            const { RedisCache, redisCacheOptions } = await import("./redis.ts");
            return new RedisCache(redisCacheOptions(ctx));
          },
          known: { backend: "redis", features: new Set<CacheFeature>(["shared"]) },
        }),
    }),
    memory: defineBackend({
      config: MemoryCacheConfig,
      create: (ctx): CacheDriver => new MemoryCache(memoryCacheOptions(ctx)),
    }),
    sqlite: defineBackend({
      config: SqliteCacheConfig,
      create: (ctx): CacheDriver =>
        new SqliteCache({
          ...memoryCacheOptions(ctx),
          // Named at connect: naming it creates the data directory and takes its lock.
          file: () => ctx.dataDir.file(`${ctx.name}.db`),
          durability: ctx.config.durability,
        }),
    }),
  },
  routes: (cache, ctx) => cacheRoutes(cache, routeLimitsOf(ctx.config)),
  api: apiOf,
  provides: [
    provide(RATE_LIMIT_STORE, (cache: CacheExports) => cache),
    provide(KEY_VALUE, (cache: CacheExports) => cache),
  ],
  bodyLimit: bodyLimitOf,
});
