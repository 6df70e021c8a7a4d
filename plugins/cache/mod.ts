/**
 * The cache plugin: a key-value cache with TTLs, atomic counters, hashes, batches and fixed-window
 * rate limits behind HTTP, on Redis (or anything speaking its protocol) or in process memory.
 * Its exports offer the same operations to other plugins, and `rateLimit` to the core.
 */
import { definePlugin, provide } from "../../core/plugin.ts";
import { RATE_LIMIT_STORE } from "../../core/rate_limit.ts";
import { KEY_VALUE } from "./capability.ts";
import { bodyLimitOf, CacheConfig, defaultPageSizeOf } from "./config.ts";
import type { CacheApi, CacheDriver, CacheDriverOptions } from "./driver.ts";
import { MemoryCache } from "./memory.ts";
import { RedisCache } from "./redis.ts";
import { cacheRoutes } from "./routes.ts";

/** What `ctx.use("cache")` returns (and what the core counts rate limits with). */
export type CacheExports = CacheApi;

/** The cache plugin definition. */
export const cachePlugin = definePlugin({
  type: "cache",
  description: "Key-value cache with TTLs, counters, hashes and rate limits (Redis or in-memory)",
  config: CacheConfig,
  requires: [],
  provides: [
    provide(RATE_LIMIT_STORE, (cache: CacheExports) => cache),
    provide(KEY_VALUE, (cache: CacheExports) => cache),
  ],
  create(ctx) {
    const config = ctx.config;
    const hits = ctx.metrics.counter("edgebox_cache_hits_total", "Cache reads that found the key");
    const misses = ctx.metrics.counter(
      "edgebox_cache_misses_total",
      "Cache reads that found nothing (absent or expired)",
    );
    const ratio = ctx.metrics.gauge(
      "edgebox_cache_hit_ratio",
      "Hits / (hits + misses) since the instance started",
    );
    let found = 0;
    let missed = 0;
    const options: CacheDriverOptions = {
      // Each instance gets its own prefix by default, so two sharing one Redis stay apart.
      keyPrefix: config.keyPrefix ?? `edgebox:${ctx.name}:`,
      limits: {
        maxKeyBytes: config.maxKeyBytes,
        maxFieldBytes: config.maxFieldBytes,
        maxValueSize: config.maxValueSize,
        maxHashFields: config.maxHashFields,
      },
      onLookup: (hit) => {
        if (hit) {
          found++;
          hits.inc();
        } else {
          missed++;
          misses.inc();
        }
        ratio.set(found / (found + missed));
      },
      ...(config.defaultTtl === undefined ? {} : { defaultTtl: config.defaultTtl }),
    };
    const driver: CacheDriver = config.backend === "redis"
      ? new RedisCache({
        ...options,
        url: config.url,
        commandTimeout: config.commandTimeout,
        connectTimeout: config.connectTimeout,
        retryMaxDelay: config.retryMaxDelay,
        log: ctx.log,
      })
      : new MemoryCache({
        ...options,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        sweepInterval: config.sweepInterval,
      });
    const cache = ctx.instrument(driver, config.backend === "redis" ? { system: "redis" } : {});
    return {
      routes: cacheRoutes(cache, { ...config, defaultPageSize: defaultPageSizeOf(config) }),
      start: () => driver.connect(),
      ready: () => driver.ping(),
      stop: () => driver.close(),
      exports: exportsOf(cache),
      bodyLimit: bodyLimitOf(config),
    };
  },
});

/** The operations other plugins may call: not connect, purge or close, which the core owns. */
function exportsOf(cache: CacheApi): CacheExports {
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
