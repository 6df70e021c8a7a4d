/** The cache plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { cachePlugin } from "./mod.ts";
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import { bodyLimitOf, MemoryCacheConfig, RedisCacheConfig, SqliteCacheConfig } from "./config.ts";
import { apiOf, type CacheDriver, type CacheFeature } from "./driver.ts";
import { MemoryCache, memoryCacheOptions } from "./memory.ts";
import { SqliteCache } from "./sqlite.ts";
import { cacheRoutes } from "./routes.ts";
import { routeLimitsOf } from "./schemas.ts";

/** The cache plugin's implementation, loaded by its light definition in `mod.ts`. */
export const cacheImplementation: PluginDefinition = definePlugin({
  type: cachePlugin.type,
  description: cachePlugin.description,
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
  bodyLimit: bodyLimitOf,
});
