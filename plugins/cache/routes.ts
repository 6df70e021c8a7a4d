/**
 * HTTP routes of the cache plugin, written only against {@linkcode CacheApi}. Values pass
 * through as bytes with their content type; everything else is JSON. Every key, field, TTL,
 * size and page is validated here (4xx naming the field) before the driver sees it. Each
 * resource registers its routes from its own file under `routes/`.
 */
import type { PluginRoutes } from "../../core/http_env.ts";
import { createRouter } from "../../core/routes.ts";
import type { CacheApi } from "./driver.ts";
import { registerBatchRoutes } from "./routes/batch.ts";
import { guard } from "./routes/guard.ts";
import { registerHashRoutes } from "./routes/hashes.ts";
import { registerKeyRoutes } from "./routes/keys.ts";
import { type CacheRouteLimits, cacheSchemas } from "./schemas.ts";

/** Options of {@linkcode cacheRoutes}. */
export type CacheRoutesOptions = CacheRouteLimits;

/** Builds the cache sub-app: one guard before every route, then keys, hashes and batch. */
export function cacheRoutes(cache: CacheApi, options: CacheRoutesOptions): PluginRoutes {
  const app = createRouter();
  const resource = { ...options, schemas: cacheSchemas(options) };
  app.use("*", guard);
  registerKeyRoutes(app, cache, resource);
  registerHashRoutes(app, cache, resource);
  registerBatchRoutes(app, cache, resource);
  return app;
}
