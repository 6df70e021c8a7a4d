/**
 * The Hono app: core middleware (request id, access log, auth, body limit), core routes
 * (`/health`, `/ready`, `/plugins`, `/openapi.json`, `/docs`), and every plugin's sub-app at
 * `/v1/<instance>`, behind a gate that answers 503 while the plugin is not ready.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { TrieRouter } from "hono/router/trie-router";
import type { Context, MiddlewareHandler } from "hono";
import { accessLog } from "./access_log.ts";
import { apiKeyAuth } from "./auth.ts";
import type { EdgeboxConfig } from "./config.ts";
import { coreError, EdgeboxError, problemResponse } from "./errors.ts";
import { readiness, retryAfterSeconds } from "./health.ts";
import type { AppEnv } from "./http_env.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import { docsPage } from "./docs_page.ts";
import { redact } from "./redact.ts";
import { requestId } from "./request_id.ts";
import { createRouter } from "./routes.ts";
import { VERSION } from "./version.ts";

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  config: EdgeboxConfig;
  lifecycle: Lifecycle;
  log: Logger;
  /** True once a stop signal arrived; `/ready` then answers 503 so balancers drain. */
  isShuttingDown?: () => boolean;
}

const PUBLIC_PATHS = new Set(["/health", "/ready", "/openapi.json", "/docs"]);

const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string().optional(),
  field: z.string().optional(),
}).openapi("Problem");

const PluginReadinessSchema = z.object({
  type: z.string(),
  backend: z.string().optional(),
  state: z.enum(["starting", "ready", "degraded", "failed", "stopping", "stopped"]),
  required: z.boolean(),
  since: z.string(),
  detail: z.string().optional(),
  retryAfter: z.number().optional(),
});

const ReadinessSchema = z.object({
  status: z.enum(["ready", "not_ready"]),
  plugins: z.record(z.string(), PluginReadinessSchema),
}).openapi("Readiness");

const PluginListSchema = z.object({
  plugins: z.array(z.object({
    name: z.string(),
    type: z.string(),
    backend: z.string().optional(),
    state: z.string(),
    required: z.boolean(),
    mount: z.string(),
    config: z.record(z.string(), z.unknown()),
  })),
}).openapi("PluginList");

/** The scope a request needs, derived from its path and method. */
export function scopeFor(method: string, path: string): string | undefined {
  if (PUBLIC_PATHS.has(path)) return undefined;
  const match = /^\/v1\/([^/]+)/.exec(path);
  if (match) return `${match[1]}:${method === "GET" || method === "HEAD" ? "read" : "write"}`;
  return "admin";
}

/** Builds the whole app; plugin sub-apps are mounted here, once, before serving. */
export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const { config, lifecycle, log } = options;
  const shuttingDown = options.isShuttingDown ?? (() => false);
  const app = createRouter();

  app.onError((error, c) => {
    const requestId = c.get("requestId");
    const problem = toEdgeboxError(error);
    if (problem.status >= 500) {
      (c.get("log") ?? log).error("request failed", {
        error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
      });
    }
    return problemResponse(problem, { requestId, instance: c.req.path });
  });

  app.use(requestId(log));
  app.use(accessLog());
  app.use(apiKeyAuth(config.auth, { scopeFor }));
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: config.server.bodyLimit,
      onError: () => {
        throw coreError("core.body_too_large", {
          detail: `The request body exceeds the limit of ${config.server.bodyLimit} bytes`,
          field: "body",
          extra: { limit: config.server.bodyLimit },
        });
      },
    }),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      summary: "Liveness: the process is up (no I/O)",
      tags: ["core"],
      responses: { 200: { description: "Alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/ready",
      summary: "Readiness: every required plugin is ready",
      tags: ["core"],
      responses: {
        200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
        503: { description: "Not ready", content: { "application/json": { schema: ReadinessSchema } } },
      },
    }),
    (c) => {
      const report = readiness(lifecycle, shuttingDown());
      if (report.status === "ready") return c.json(report, 200);
      c.header("Retry-After", "1");
      return c.json(report, 503);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/plugins",
      summary: "Plugin instances, their state and config (secrets redacted)",
      tags: ["core"],
      security: [{ apiKey: [] }],
      responses: {
        200: { description: "Instances", content: { "application/json": { schema: PluginListSchema } } },
        401: { description: "No valid API key", content: { "application/problem+json": { schema: ProblemSchema } } },
      },
    }),
    (c) =>
      c.json({
        plugins: lifecycle.plugins.map((p) => ({
          name: p.name,
          type: p.type,
          ...(p.backend === undefined ? {} : { backend: p.backend }),
          state: p.state,
          required: p.required,
          mount: `/v1/${p.name}`,
          config: redact(p.settings.config) as Record<string, unknown>,
        })),
      }, 200),
  );

  for (const plugin of lifecycle.plugins) {
    if (!plugin.instance.routes) continue;
    app.use(`/v1/${plugin.name}/*`, availabilityGate(lifecycle, plugin.name, shuttingDown));
    app.use(`/v1/${plugin.name}`, availabilityGate(lifecycle, plugin.name, shuttingDown));
    app.route(`/v1/${plugin.name}`, plugin.instance.routes);
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer" });
  let spec: unknown;
  const openapi = () =>
    spec ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "edgebox", version: VERSION, description: "Plugin routes live under /v1/<instance>" },
    });
  app.get("/openapi.json", (c) => c.json(openapi()));
  app.get("/docs", (c) => c.html(docsPage(openapi())));

  app.notFound(notFoundOrMethodNotAllowed(app));
  return app;
}

/** Answers 503 problem+json with `Retry-After` unless the plugin is ready. */
function availabilityGate(
  lifecycle: Lifecycle,
  name: string,
  shuttingDown: () => boolean,
): MiddlewareHandler<AppEnv> {
  return async function availabilityGateMiddleware(_c, next) {
    const plugin = lifecycle.get(name)!;
    if (plugin.state === "ready") return next();
    if (shuttingDown()) {
      throw coreError("core.shutting_down", { detail: "edgebox is shutting down", headers: { "Retry-After": "1" } });
    }
    throw coreError("core.plugin_unavailable", {
      detail: `Plugin "${name}" is ${plugin.state}${plugin.detail ? `: ${plugin.detail}` : ""}`,
      headers: { "Retry-After": String(retryAfterSeconds(plugin)) },
      extra: { plugin: name, state: plugin.state },
    });
  };
}

/**
 * Hono answers 404 for a path that exists under another method; tell the two apart so
 * clients get 405 with `Allow`, as HTTP asks.
 */
function notFoundOrMethodNotAllowed(app: OpenAPIHono<AppEnv>) {
  let router: TrieRouter<true> | undefined;
  const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
  return (c: Context<AppEnv>): Response => {
    if (!router) {
      router = new TrieRouter<true>();
      for (const route of app.routes) {
        if (route.method !== "ALL") router.add(route.method, route.path, true);
      }
    }
    const path = c.req.path;
    const allowed = methods.filter((method) => router!.match(method, path)[0].length > 0);
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
    const error = allowed.length > 0 && !allowed.includes(c.req.method)
      ? coreError("core.method_not_allowed", {
        detail: `${c.req.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`,
        headers: { Allow: allowed.join(", ") },
      })
      : coreError("core.not_found", { detail: `No route matches ${c.req.method} ${path}` });
    return problemResponse(error, { requestId: c.get("requestId"), instance: path });
  };
}

function toEdgeboxError(error: unknown): EdgeboxError {
  if (error instanceof EdgeboxError) return error;
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's own 4xx (malformed JSON, for one) keeps its status under one stable code.
    return new EdgeboxError("core.bad_request", { status: error.status, title: "Bad request" }, {
      detail: error.message || "Bad request",
      field: "body",
    });
  }
  return coreError("core.internal", {
    detail: "An unexpected error occurred; see the server log for this request id",
    cause: error,
  });
}
