/**
 * The router factory plugins build their sub-apps with: an OpenAPIHono whose request
 * validation failures become 400 problem+json naming the field, so `/openapi.json` and the
 * validation come from the same zod schemas.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import { coreError } from "./errors.ts";
import type { AppEnv, PluginRoutes } from "./http_env.ts";

/** Where a request part is named in error fields: `body.items.0.key`, `query.ttl`. */
const targetNames: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

/** Converts zod issues about one request part into a 400 problem naming each field. */
export function validationError(target: string, error: z.ZodError): Error {
  const prefix = targetNames[target] ?? target;
  const errors = error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  const first = errors[0] ?? { field: prefix, message: "Invalid input" };
  return coreError("core.validation_failed", {
    detail: `${first.field}: ${first.message}`,
    field: first.field,
    extra: { errors },
  });
}

/** Options of {@linkcode createRouter}. */
export interface RouterOptions {
  /** How the app finds a request's path (the core's app reads the one the front decided). */
  getPath?: (request: Request, options?: { env?: object }) => string;
}

/** A new, empty sub-app for a plugin (or the core) with edgebox's validation errors. */
export function createRouter(options: RouterOptions = {}): PluginRoutes {
  return new OpenAPIHono<AppEnv>({
    ...(options.getPath ? { getPath: options.getPath } : {}),
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.target, result.error);
    },
  });
}
