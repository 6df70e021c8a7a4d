/**
 * The HTTP front of edgebox: the default middleware (request id, auth, access log, problem+json
 * for every error), the core routes (`/health`, `/ready`, `/plugins`, `/openapi.json`, `/docs`),
 * and every plugin's sub-app at `/v1/<instance>` behind a body limit and a gate that answers 503
 * while the plugin is not ready.
 *
 * Request id, auth and access log run in a synchronous wrapper around the Hono app rather than as
 * Hono middleware: a route that needs no I/O (health probes above all) then answers without a
 * single promise. `bench/health.ts` measures what the layer costs against bare `Deno.serve`.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import type { Context } from "hono";
import { logAccess } from "./access_log.ts";
import { apiKeyAuthenticator, authEnabled } from "./auth.ts";
import { clientIpResolver } from "./client_ip.ts";
import { createCors } from "./cors.ts";
import type { EdgeboxConfig } from "./config.ts";
import { coreError, EdgeboxError, problemResponse } from "./errors.ts";
import { readiness, retryAfterSeconds } from "./health.ts";
import type { AppEnv, Principal, RequestContext } from "./http_env.ts";
import type { Lifecycle, ManagedPlugin } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import { docsPage } from "./docs_page.ts";
import { declareSecurity } from "./openapi.ts";
import { createMountGuard } from "./mount_guard.ts";
import { mountTable } from "./mounts.ts";
import { type GuardedBody, StallWatch } from "./request_body.ts";
import { requestPath, unservedMethod } from "./request_target.ts";
import { redact } from "./redact.ts";
import type { ReloadResult } from "./reload.ts";
import { registerReloadRoute } from "./reload_route.ts";
import { requestIdFor } from "./request_id.ts";
import { createRouter } from "./routes.ts";
import { messageOf } from "./timing.ts";
import { VERSION } from "./version.ts";
import { type RequestSpan, startRequestSpan, type TelemetryHub } from "./telemetry.ts";
import {
  createRateLimiter,
  RATE_LIMIT_STORE,
  type RateLimiter,
  type RateLimitStore,
} from "./rate_limit.ts";

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  config: EdgeboxConfig;
  lifecycle: Lifecycle;
  log: Logger;
  /** True once a stop signal arrived; `/ready` then answers 503 so balancers drain. */
  isShuttingDown?: () => boolean;
  /** The config generation this app serves, shown by `/plugins` (1 until a reload). */
  generation?: number;
  /** Applies a config reload; when given, `POST /admin/reload` calls it (`core/reload.ts`). */
  reload?: () => Promise<ReloadResult>;
}

/** Methods kept as metric labels; any other is `_OTHER` (OpenTelemetry's rule), bounding cardinality. */
const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** What `GET /health` answers: the process is up (no I/O, nothing else checked). */
const LIVENESS = Object.freeze({ status: "ok" as const });

/** Core paths anyone may call. */
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
  /** The config generation serving: 1 at boot, one more per reload that changed something. */
  generation: z.number().int(),
  plugins: z.array(z.object({
    name: z.string(),
    type: z.string(),
    backend: z.string().optional(),
    state: z.string(),
    required: z.boolean(),
    mount: z.string(),
    /** The config generation that started this instance. */
    generation: z.number().int(),
    config: z.record(z.string(), z.unknown()),
  })),
}).openapi("PluginList");

/** The scope a request needs, derived from its path and method. */
export function scopeFor(
  method: string,
  path: string,
  rootScopes: ReadonlyMap<string, string | undefined> = new Map(),
  routeScopes: ReadonlyMap<string, (method: string, path: string) => string | undefined> =
    new Map(),
): string | undefined {
  if (PUBLIC_PATHS.has(path)) return undefined;
  if (rootScopes.has(path)) return rootScopes.get(path);
  const match = /^\/v1\/([^/]+)(\/.*)?$/.exec(path);
  if (match) {
    const own = routeScopes.get(match[1]!)?.(method, match[2] ?? "/");
    return own ?? `${match[1]}:${method === "GET" || method === "HEAD" ? "read" : "write"}`;
  }
  return "admin";
}

/** The assembled app: what `Deno.serve` calls, plus Hono's test-friendly `request`. */
export interface EdgeboxApp {
  /** Handles one request; synchronous when the route is (and no rate limit applies). */
  fetch(request: Request, info?: { remoteAddr: Deno.Addr }): Response | Promise<Response>;
  /** Like Hono's `app.request`: a path or URL plus init, always a promise. */
  request(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The underlying Hono app (routes, OpenAPI registry). */
  hono: OpenAPIHono<AppEnv>;
}

/** Per-request state; the request's logger is only built if something logs. */
class RequestState implements RequestContext {
  #log: Logger | undefined;
  constructor(
    readonly requestId: string,
    readonly path: string,
    readonly principal: Principal,
    readonly root: Logger,
    readonly span: RequestSpan | undefined,
  ) {}
  get log(): Logger {
    if (this.#log) return this.#log;
    const fields: Record<string, string> = { requestId: this.requestId };
    if (this.span?.ids) {
      fields.traceId = this.span.ids.traceId;
      fields.spanId = this.span.ids.spanId;
    }
    return this.#log = this.root.child(fields);
  }
}

/** Builds the whole app; plugin sub-apps are mounted here, once, before serving. */
export function createApp(options: AppOptions): EdgeboxApp {
  const { config, lifecycle, log } = options;
  const shuttingDown = options.isShuttingDown ?? (() => false);
  // Hono routes on the path the front decided (`c.env.path`), never on one it derives again.
  const app = createRouter({
    getPath: (request, opts) =>
      (opts?.env as RequestContext | undefined)?.path ?? requestPath(request.url),
  });

  // A plugin's 503 carries the time of its instance's next reconnect attempt, not a guess.
  const scheduled = (problem: EdgeboxError, path: string): EdgeboxError => {
    if (problem.status !== 503 || !path.startsWith("/v1/")) return problem;
    const end = path.indexOf("/", 4);
    const plugin = lifecycle.get(end === -1 ? path.slice(4) : path.slice(4, end));
    if (plugin?.nextAttemptAt === undefined) return problem;
    return new EdgeboxError(problem.code, problem, {
      detail: problem.message,
      headers: { ...problem.headers, "Retry-After": String(retryAfterSeconds(plugin)) },
      extra: problem.extra,
      ...(problem.field === undefined ? {} : { field: problem.field }),
      ...(problem.cause === undefined ? {} : { cause: problem.cause }),
    });
  };

  app.onError((error, c) => {
    const problem = scheduled(toEdgeboxError(error), c.req.path);
    if (isFailure(problem)) logFailure(c.env?.log ?? log, error);
    return problemResponse(problem, { requestId: c.env?.requestId, instance: c.req.path });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      summary: "Liveness: the process is up (no I/O)",
      tags: ["core"],
      responses: {
        200: {
          description: "Alive",
          content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
        },
      },
    }),
    (c) => c.json(LIVENESS, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/ready",
      summary: "Readiness: every required plugin is ready",
      tags: ["core"],
      responses: {
        200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
        503: {
          description: "Not ready",
          content: { "application/json": { schema: ReadinessSchema } },
        },
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
        200: {
          description: "Instances",
          content: { "application/json": { schema: PluginListSchema } },
        },
        401: {
          description: "No valid API key",
          content: { "application/problem+json": { schema: ProblemSchema } },
        },
      },
    }),
    (c) =>
      c.json({
        generation: options.generation ?? 1,
        plugins: lifecycle.plugins.map((p) => ({
          name: p.name,
          type: p.type,
          ...(p.backend === undefined ? {} : { backend: p.backend }),
          state: p.state,
          required: p.required,
          mount: `/v1/${p.name}`,
          generation: p.generation,
          config: redact(p.settings.config) as Record<string, unknown>,
        })),
      }, 200),
  );
  if (options.reload) registerReloadRoute(app, options.reload);

  // The instances this app routes to, captured now: a reload builds a new app over the new
  // serving set, and requests already routed here are counted against the instance they reached.
  const mounts = mountTable(lifecycle, config.server.bodyLimit);
  const bodyLimits = new Map<string, number>();
  const routed = new Map<string, ManagedPlugin>();
  for (const mount of mounts) {
    if (!mount.routes) continue;
    bodyLimits.set(mount.name, mount.bodyLimit);
    routed.set(mount.name, mount.plugin);
    app.route(mount.prefix, mount.routes);
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
  });
  let spec: unknown;
  const openapi = () =>
    spec ??= declareSecurity(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "edgebox",
          version: VERSION,
          description: "Plugin routes live under /v1/<instance>",
        },
      }),
      (method, path) =>
        authEnabled(config.auth) ? scopeFor(method, path, rootScopes, routeScopes) : undefined,
    );
  app.get("/openapi.json", (c) => c.json(openapi()));
  app.get("/docs", (c) => c.html(docsPage(openapi())));

  const rootScopes = new Map<string, string | undefined>();
  for (const { rootRoutes } of mounts) {
    if (!rootRoutes) continue;
    for (const route of rootRoutes.routes.routes) rootScopes.set(route.path, rootRoutes.scope);
    app.route("/", rootRoutes.routes);
  }

  app.notFound(notFoundOrMethodNotAllowed(app));
  const limits = config.server.rateLimit;
  const rateLimiter = limits
    ? createRateLimiter(limits, () => rateLimitStore(lifecycle, limits.store), log)
    : undefined;
  const routeScopes = new Map(
    mounts.flatMap((m) => m.routeScope ? [[m.name, m.routeScope] as const] : []),
  );
  const stalls = new StallWatch(config.server.bodyTimeout);
  // Its sweep timer lives no longer than the plugins: bodies still arriving once edgebox drains
  // are bounded by the shutdown timeout instead.
  lifecycle.draining.addEventListener("abort", () => stalls.close(), { once: true });
  return wrap(app, {
    config,
    log,
    telemetry: lifecycle.telemetry,
    rootScopes,
    routeScopes,
    rateLimiter,
    routed,
    guardMount: createMountGuard({
      plugins: routed,
      bodyLimits,
      shuttingDown,
      stalls,
      maxJsonDepth: config.server.maxJsonDepth,
    }),
    stalls,
  });
}

/** The synchronous default-middleware layer around the Hono app. */
function wrap(
  app: OpenAPIHono<AppEnv>,
  options: {
    config: EdgeboxConfig;
    log: Logger;
    telemetry: TelemetryHub;
    rootScopes: ReadonlyMap<string, string | undefined>;
    routeScopes: ReadonlyMap<string, (method: string, path: string) => string | undefined>;
    rateLimiter: RateLimiter | undefined;
    /** Instance name -> the instance this app routes `/v1/<name>` to. */
    routed: ReadonlyMap<string, ManagedPlugin>;
    guardMount: (path: string, request: Request) => GuardedBody | undefined;
    stalls: StallWatch;
  },
): EdgeboxApp {
  const { log, telemetry, rootScopes, routeScopes, rateLimiter, guardMount, routed } = options;
  const unlogged = new Set(options.config.log.skipPaths);
  const routeTemplate = routeTemplates(app);
  const authenticate = apiKeyAuthenticator(
    options.config.auth,
    (method, path) => scopeFor(method, path, rootScopes, routeScopes),
  );
  const { cors: corsConfig, trustedProxies } = options.config.server;
  const cors = corsConfig ? createCors(corsConfig) : undefined;
  const resolveClient = clientIpResolver(trustedProxies ?? []);
  /** The client's address: the peer, or what a trusted proxy says it forwarded for. */
  const clientOf = (request: Request, info: { remoteAddr: Deno.Addr } | undefined) =>
    resolveClient(clientIp(info), request.headers.get("x-forwarded-for"));
  const requests = telemetry.counter("http_requests_total", "HTTP requests answered", [
    "method",
    "route",
    "status",
  ]);
  // One frozen label set per (method, route, status): metrics backends may bind it once.
  const labelSets = new Map<string, Readonly<Record<string, string>>>();
  const labelsFor = (method: string, route: string, status: number) => {
    const knownMethod = STANDARD_METHODS.has(method) ? method : "_OTHER";
    const key = `${knownMethod} ${status} ${route}`;
    let labels = labelSets.get(key);
    if (!labels) {
      labels = Object.freeze({ method: knownMethod, route, status: String(status) });
      if (labelSets.size < 10_000) labelSets.set(key, labels);
    }
    return labels;
  };
  const inFlight = telemetry.gauge("http_requests_in_flight", "Requests being handled");
  // One count per process, not per app: a reload swaps apps while requests are in flight.
  let handling = handlingBy.get(telemetry);
  if (!handling) handlingBy.set(telemetry, handling = { count: 0 });
  const counted = handling;
  const durations = telemetry.histogram(
    "http_request_duration_seconds",
    "Time from request to response headers",
    ["method", "route", "status"],
  );

  const fetch = (
    request: Request,
    info?: { remoteAddr: Deno.Addr },
  ): Response | Promise<Response> => {
    const started = performance.now();
    const requestId = requestIdFor(request.headers.get("x-request-id"));
    const method = request.method;
    // The one path of this request: auth, limits, the gate, routing, metrics and logs all use it.
    let path: string;
    try {
      path = requestPath(request.url);
    } catch (error) {
      path = "(invalid)";
      return refuse(error as EdgeboxError, method, requestId, started);
    }
    const unserved = unservedMethod(method);
    if (unserved) return refuse(unserved, method, requestId, started, path);
    // Liveness is answered before routing: it does no I/O and is probed constantly.
    const liveness = method === "GET" && path === "/health";
    const span = startRequestSpan(telemetry, request, method, path);
    inFlight.set(++counted.count);
    // A reload retires an instance once the requests it is handling are answered.
    const instance = path.startsWith("/v1/") ? routed.get(instanceOf(path)) : undefined;
    if (instance) instance.inFlight++;
    const finish = (response: Response): Response => {
      inFlight.set(--counted.count);
      if (instance) instance.inFlight--;
      const sent = withRequestId(cors ? cors.decorate(response, request) : response, requestId);
      const route = liveness ? "/health" : routeTemplate(method, path);
      const elapsed = performance.now() - started;
      const labels = labelsFor(method, route, sent.status);
      requests.inc(labels);
      durations.observe(elapsed / 1000, labels);
      span?.end(route, sent.status);
      if (telemetry.accessLog && !unlogged.has(path) && log.enabled("info")) {
        logAccess(log, {
          method,
          route,
          ...(route === "(unmatched)" ? { path } : {}),
          status: sent.status,
          client: clientOf(request, info),
          requestId,
          durationMs: Math.round(elapsed * 1000) / 1000,
          ...(span?.ids ? { traceId: span.ids.traceId } : {}),
        });
      }
      return sent;
    };
    const fail = (error: unknown): Response => {
      const problem = toEdgeboxError(error);
      if (isFailure(problem)) logFailure(log.child({ requestId }), error);
      return finish(problemResponse(problem, { requestId, instance: path }));
    };

    let response: Response | Promise<Response>;
    try {
      // A CORS preflight is answered here: it never reaches auth, limits or a plugin's route.
      const preflight = cors?.preflight(request);
      if (preflight) return finish(preflight);
      const principal = authenticate(method, path, request.headers.get("authorization"));
      const state = new RequestState(requestId, path, principal, log, span);
      const dispatch = (): Response | Promise<Response> => {
        const body = guardMount(path, request);
        const answer = app.fetch(request, state);
        if (!body) return answer;
        // Whatever the route made of a failed body read (a JSON error, a 500), the cause was
        // the body: its size, its stall or its JSON.
        return Promise.resolve(answer).then((routed) => {
          const problem = body.problem();
          if (problem) throw problem;
          return routed;
        });
      };
      const handle = () =>
        span ? span.run(dispatch) : liveness ? Response.json(LIVENESS) : dispatch();
      const limited = rateLimiter?.(path, principal, clientOf(request, info));
      response = limited
        ? limited.then(async (headers) => withHeaders(await handle(), headers))
        : handle();
    } catch (error) {
      return fail(error);
    }
    return response instanceof Promise ? response.then(finish, fail) : finish(response);
  };

  /** Answers a request refused before it has a path to route on (bad path, unserved method). */
  const refuse = (
    error: EdgeboxError,
    method: string,
    requestId: string,
    started: number,
    path?: string,
  ): Response => {
    const route = "(refused)";
    const labels = labelsFor(method, route, error.status);
    requests.inc(labels);
    durations.observe((performance.now() - started) / 1000, labels);
    if (telemetry.accessLog && log.enabled("info")) {
      logAccess(log, {
        method: method.slice(0, 32),
        route,
        status: error.status,
        requestId,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      });
    }
    return problemResponse(error, { requestId, ...(path === undefined ? {} : { instance: path }) });
  };

  const request = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? (init ? new Request(input, init) : input) : new Request(
      typeof input === "string" && input.startsWith("/") ? `http://localhost${input}` : input,
      init,
    );
    return Promise.resolve(fetch(req));
  };

  return { fetch, request, hono: app };
}

/** Requests being handled, per telemetry hub (one per edgebox), across the apps of its reloads. */
const handlingBy = new WeakMap<TelemetryHub, { count: number }>();

/** `/v1/cache/keys/a` -> `cache`. */
function instanceOf(path: string): string {
  const end = path.indexOf("/", 4);
  return end === -1 ? path.slice(4) : path.slice(4, end);
}

function clientIp(info: { remoteAddr: Deno.Addr } | undefined): string {
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  let target = response;
  for (const [name, value] of Object.entries(headers)) {
    try {
      target.headers.set(name, value);
    } catch {
      target = new Response(target.body, target); // immutable headers: copy once, then set
      target.headers.set(name, value);
    }
  }
  return target;
}

/** The instance that counts rate limits: the one named, or the first that provides it. */
export function rateLimitStore(
  lifecycle: Lifecycle,
  name: string | undefined,
): RateLimitStore | undefined {
  return lifecycle.provider(RATE_LIMIT_STORE, name);
}

function withRequestId(response: Response, requestId: string): Response {
  try {
    response.headers.set("x-request-id", requestId);
    return response;
  } catch {
    // Immutable headers (a response passed through from fetch): copy it.
    const copy = new Response(response.body, response);
    copy.headers.set("x-request-id", requestId);
    return copy;
  }
}

/**
 * The template of the route that serves `method path` (never the raw path: bounded labels), from
 * a router of our own holding each route's template: Hono's public router API, not the internal
 * shape of what its app router stores. Built at the first request, once every route is mounted.
 */
function routeTemplates(app: OpenAPIHono<AppEnv>): (method: string, path: string) => string {
  let router: SmartRouter<string> | undefined;
  return (method, path) => {
    if (!router) {
      router = new SmartRouter<string>({ routers: [new RegExpRouter(), new TrieRouter()] });
      for (const route of app.routes) {
        if (route.method !== "ALL") {
          router.add(route.method, route.path, withoutPatterns(route.path));
        }
      }
    }
    const matches = router.match(method === "HEAD" ? "GET" : method, path)[0];
    return matches.length > 0 ? matches[matches.length - 1]![0] : "(unmatched)";
  };
}

const patternless = new Map<string, string>();

/** `/objects/:key{[\s\S]+}` -> `/objects/:key`: a parameter's pattern is not part of the name. */
function withoutPatterns(path: string): string {
  if (!path.includes("{")) return path;
  let name = patternless.get(path);
  if (name === undefined) {
    name = "";
    let depth = 0;
    for (const char of path) {
      if (char === "{") depth++;
      else if (char === "}" && depth > 0) depth--;
      else if (depth === 0) name += char;
    }
    patternless.set(path, name); // bounded: one entry per route that has a pattern
  }
  return name;
}

/**
 * Whether an error answer deserves an error line of its own: a bug (500) or a backend that
 * failed (502, 507). A 503 or 504 says a plugin is unavailable or slow, which the lifecycle
 * already logs when it happens, and the access log line records each such answer.
 */
function isFailure(problem: EdgeboxError): boolean {
  return problem.status >= 500 && problem.status !== 503 && problem.status !== 504;
}

/** Logs a failed request: a bug with its stack, a known error by code and cause. */
function logFailure(log: Logger, error: unknown): void {
  if (error instanceof EdgeboxError && error.code !== "core.internal") {
    log.error("request failed", {
      code: error.code,
      detail: error.message,
      ...(error.cause === undefined ? {} : { cause: messageOf(error.cause) }),
    });
    return;
  }
  const bug = error instanceof EdgeboxError && error.cause !== undefined ? error.cause : error;
  log.error("request failed", {
    error: bug instanceof Error
      ? { name: bug.name, message: bug.message, stack: bug.stack }
      : String(bug),
  });
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
    return problemResponse(error, { requestId: c.env?.requestId, instance: path });
  };
}

function toEdgeboxError(error: unknown): EdgeboxError {
  if (error instanceof EdgeboxError) return error;
  if (error instanceof HTTPException && error.status === 415) {
    return coreError("core.unsupported_media_type", {
      detail: "The request's Content-Type is not one this route accepts; see /openapi.json",
      field: "header.content-type",
    });
  }
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
