/** `/hashes`: read a hash, set or remove its fields, delete it or one field. */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import type { CacheApi } from "../driver.ts";
import { cacheError, quoted } from "../errors.ts";
import { HashSchema } from "../schemas.ts";
import { cacheHook, TAGS } from "./openapi.ts";
import type { CacheResourceOptions } from "./options.ts";
import { inBody, notFound } from "./request_errors.ts";
import { ttlSeconds } from "./ttl.ts";

/** Registers the hash routes on `app`. */
export function registerHashRoutes(
  app: PluginRoutes,
  cache: CacheApi,
  options: CacheResourceOptions,
): void {
  const s = options.schemas;

  app.openapi(
    createRoute({
      method: "get",
      path: "/hashes/{key}",
      summary: "Read every field of a hash",
      tags: TAGS,
      request: { params: s.KeyPath },
      responses: {
        200: jsonResponse(HashSchema, "The hash"),
        400: problemResponse("Invalid key"),
        404: problemResponse("No such hash"),
        409: problemResponse("The key holds a value"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const hash = await cache.getHash(key);
      if (!hash) throw notFound(key);
      const ttl = ttlSeconds(hash.ttlMs);
      if (ttl !== undefined) c.header("x-cache-ttl", String(ttl));
      return c.json({ key, fields: hash.fields, ttl: ttl ?? null }, 200);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/hashes/{key}",
      summary: "Set hash fields from a JSON object (null removes a field); creates the hash",
      tags: TAGS,
      request: {
        params: s.KeyPath,
        query: s.TtlQuery,
        body: { required: true, content: { "application/json": { schema: s.HashPatch } } },
      },
      responses: {
        200: jsonResponse(
          z.object({ key: z.string(), size: z.number().int(), created: z.boolean() }),
          "Fields the hash now holds",
        ),
        400: problemResponse("Invalid key, field or TTL"),
        409: problemResponse(
          `The key holds a value, or the hash would exceed ${options.maxHashFields} fields`,
        ),
        413: problemResponse(`A field value larger than ${options.maxValueSize} bytes`),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const { ttl } = c.req.valid("query");
      const fields = c.req.valid("json");
      const result = await cache.patchHash(key, fields, ttl === undefined ? {} : { ttlMs: ttl })
        .catch((error) => {
          throw inBody(error);
        });
      return c.json({ key, ...result }, 200);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/hashes/{key}",
      summary: "Delete a hash (any key, like DELETE /keys/{key})",
      tags: TAGS,
      request: { params: s.KeyPath },
      responses: {
        204: { description: "Deleted" },
        400: problemResponse("Invalid key"),
        404: problemResponse("No such key"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      if (!(await cache.delete(key))) throw notFound(key);
      return c.body(null, 204);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/hashes/{key}/fields/{field}",
      summary: "Remove one field of a hash",
      tags: TAGS,
      request: { params: s.FieldPath },
      responses: {
        204: { description: "Removed" },
        400: problemResponse("Invalid key or field"),
        404: problemResponse("No such hash or field"),
        409: problemResponse("The key holds a value"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key, field } = c.req.valid("param");
      if (!(await cache.deleteHashField(key, field))) {
        throw cacheError("cache.field_not_found", {
          detail: `Hash ${quoted(key)} has no field ${quoted(field)}`,
          field: "path.field",
        });
      }
      return c.body(null, 204);
    },
    cacheHook,
  );
}
