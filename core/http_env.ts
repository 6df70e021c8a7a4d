/**
 * The per-request state the core hands to every route. It travels as Hono's `env` (`c.env`)
 * rather than `c.var` because the core sets it before Hono runs: the default middleware (request
 * id, auth, access log) wraps the app synchronously, so a request that needs no I/O never pays
 * for an async middleware chain.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "./log.ts";

/** Who made a request, once authenticated. */
export interface Principal {
  /** The API key's name from config (`anonymous` when auth is off). */
  name: string;
  /** Scopes such as `cache:read`, `storage:write`, `admin` or `*`. */
  scopes: readonly string[];
}

/** What the core knows about a request before routing it. */
export interface RequestContext {
  /** The `X-Request-Id`, kept from the client when well-formed, generated otherwise. */
  readonly requestId: string;
  /**
   * The decoded request path, decided once at the front (`core/request_target.ts`): the same
   * value auth, limits, routing and logs used. Never derive another from the URL.
   */
  readonly path: string;
  /** The authenticated caller. */
  readonly principal: Principal;
  /** A logger whose lines carry the request id. */
  readonly log: Logger;
}

/** Hono environment of every edgebox app and sub-app. */
export interface AppEnv {
  Bindings: RequestContext;
}

/** A plugin's HTTP routes: a Hono sub-app with OpenAPI metadata, mounted at `/v1/<instance>`. */
export type PluginRoutes = OpenAPIHono<AppEnv>;
