/**
 * OpenAPI helpers every plugin's routes use: the shared `Problem` component (RFC 9457, as
 * `core/errors.ts` renders it) and response entries in one line each.
 */
import { z } from "@hono/zod-openapi";

/** The problem document, registered once as the `Problem` component. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string().openapi({ description: "Stable error code, such as cache.key_invalid" }),
  requestId: z.string().optional(),
  instance: z.string().optional(),
  field: z.string().optional().openapi({ description: "The request field at fault" }),
}).openapi("Problem");

/** A JSON response entry: `200: jsonResponse(Node, "The node")`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A problem+json response entry: `404: problemResponse("No such key")`. */
export function problemResponse(description: string) {
  return { description, content: { "application/problem+json": { schema: ProblemSchema } } };
}

type OpenApiDocument = { paths?: Record<string, Record<string, Record<string, unknown>>> };

const HTTP_METHODS = new Set(["get", "head", "post", "put", "patch", "delete", "options"]);

/**
 * Declares on every operation of `doc` what calling it takes, as the server enforces it:
 * `security: [{ apiKey: [] }]` and the scope (`x-required-scope`) where a key is needed, an
 * empty `security` on public routes. `scopeOf` is the server's own rule, so the document cannot
 * claim less than the server asks.
 */
export function declareSecurity<T>(
  doc: T,
  scopeOf: (method: string, path: string) => string | undefined,
): T {
  const paths = (doc as OpenApiDocument).paths ?? {};
  for (const [template, operations] of Object.entries(paths)) {
    // `/v1/cache/keys/{key}` -> `/v1/cache/keys/key`: scopes depend on the instance and method.
    const path = template.replace(/\{([^}]+)\}/g, "$1");
    for (const [method, operation] of Object.entries(operations)) {
      if (!HTTP_METHODS.has(method)) continue;
      const scope = scopeOf(method.toUpperCase(), path);
      operation.security = scope === undefined ? [] : [{ apiKey: [] }];
      if (scope !== undefined) operation["x-required-scope"] = scope;
    }
  }
  return doc;
}
