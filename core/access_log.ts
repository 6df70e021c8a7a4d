/** One structured log line per request, labelled by route template, never by raw path. */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./http_env.ts";

/** Logs method, route, status, duration and request id once the response is ready. */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async function accessLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    const log = c.get("log");
    if (!log.enabled("info")) return;
    const route = routeTemplate(c);
    log.info("request", {
      method: c.req.method,
      route,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    });
  };
}

/** The matched route's template (`/v1/cache/keys/:key`), or `(unmatched)`. */
// deno-lint-ignore no-explicit-any
export function routeTemplate(c: any): string {
  const path = routePath(c);
  return path === "" || path.endsWith("*") ? "(unmatched)" : path;
}
