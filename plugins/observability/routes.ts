/**
 * HTTP routes of the observability plugin: the runtime log level under `/v1/<instance>`, and
 * the Prometheus scrape endpoint, which the core mounts at the root.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Registry } from "./prom_client.ts";
import { hasScope } from "../../core/auth.ts";
import type { AppEnv, PluginRoutes } from "../../core/http_env.ts";
import type { Logger, LogLevel } from "../../core/log.ts";
import { createRouter } from "../../core/routes.ts";
import { observabilityError } from "./errors.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const satisfies readonly LogLevel[];

const LogLevelSchema = z.object({
  level: z.enum(LEVELS).openapi({ example: "debug" }),
}).strict().openapi("LogLevel");

const LogLevelChangeSchema = z.object({
  level: z.enum(LEVELS),
  previous: z.enum(LEVELS),
}).openapi("LogLevelChange");

/**
 * Changing what the whole process logs is an operator's act: on top of the scope the core
 * checks for the path (`<instance>:write`), it needs `admin`.
 */
const requireAdmin: MiddlewareHandler<AppEnv> = function requireAdmin(c, next) {
  if (!hasScope(c.env.principal.scopes, "admin")) {
    throw observabilityError("observability.forbidden", {
      detail: `API key "${c.env.principal.name}" lacks scope "admin"`,
      extra: { requiredScope: "admin" },
    });
  }
  return next();
};

/** `GET` and `PUT /log-level`: read and change the level of every logger in the process. */
export function logLevelRoutes(log: Logger): PluginRoutes {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/log-level",
      summary: "The log level of the whole process",
      tags: ["observability"],
      responses: {
        200: {
          description: "Current level",
          content: { "application/json": { schema: LogLevelSchema } },
        },
      },
    }),
    (c) => c.json({ level: log.level }, 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/log-level",
      summary: "Change the log level of the whole process at run time (scope admin)",
      tags: ["observability"],
      middleware: [requireAdmin] as const,
      request: {
        body: { required: true, content: { "application/json": { schema: LogLevelSchema } } },
      },
      responses: {
        200: {
          description: "Level changed",
          content: { "application/json": { schema: LogLevelChangeSchema } },
        },
      },
    }),
    (c) => {
      const { level } = c.req.valid("json");
      const previous = log.level;
      const audit = () =>
        log.warn("log level changed", { from: previous, to: level, by: c.env.principal.name });
      // Written under whichever of the two levels shows warnings, so a switch to `error` is
      // still on record.
      if (log.enabled("warn")) {
        audit();
        log.level = level;
      } else {
        log.level = level;
        audit();
      }
      return c.json({ level, previous }, 200);
    },
  );

  return app;
}

/** `GET <path>`: every metric of `registry` in the Prometheus text exposition format. */
export function metricsRoutes(path: string, registry: Registry): PluginRoutes {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path,
      summary: "Prometheus metrics (scope metrics:read unless metrics.public)",
      tags: ["observability"],
      responses: {
        200: {
          description: "Prometheus text exposition format 0.0.4",
          content: { "text/plain": { schema: z.string() } },
        },
      },
    }),
    async (c) => {
      let text: string;
      try {
        text = await registry.metrics();
      } catch (error) {
        throw observabilityError("observability.scrape_failed", {
          detail: "A metric collector failed; see the server log for this request id",
          cause: error,
        });
      }
      return c.text(text, 200, { "content-type": registry.contentType });
    },
  );

  return app;
}
