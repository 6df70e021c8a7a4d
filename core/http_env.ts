/** The per-request variables the core middleware sets, shared by the app and plugin routes. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "./log.ts";

/** Who made a request, once authenticated. */
export interface Principal {
  /** The API key's name from config (`anonymous` when auth is off). */
  name: string;
  /** Scopes such as `cache:read`, `storage:write`, `admin` or `*`. */
  scopes: readonly string[];
}

/** Hono environment of every edgebox app and sub-app. */
export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    principal: Principal;
  };
}

/** A plugin's HTTP routes: a Hono sub-app with OpenAPI metadata, mounted at `/v1/<instance>`. */
export type PluginRoutes = OpenAPIHono<AppEnv>;
