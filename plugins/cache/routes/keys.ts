/**
 * `/keys`: read (and HEAD), store and delete a value under its preconditions, add to a counter,
 * and list keys by prefix.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { coreError, EdgeboxError } from "../../../core/errors.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { conditionsOf } from "../conditions.ts";
import { type CacheApi, DEFAULT_CONTENT_TYPE } from "../driver.ts";
import { cacheError, quoted } from "../errors.ts";
import { entityTag } from "../etag.ts";
import { KeyPageSchema } from "../schemas.ts";
import { cacheHook, TAGS } from "./openapi.ts";
import type { CacheResourceOptions } from "./options.ts";
import { inQuery, notFound, preconditionFailed } from "./request_errors.ts";
import { readPrecondition, valueResponse } from "./value_response.ts";

const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

const binary = (description: string) => ({
  description,
  headers: z.object({
    "x-cache-ttl": z.string().optional().openapi({
      description: "Seconds until the entry expires (absent: no expiry)",
    }),
  }),
  content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
});

/** Registers the key routes on `app`. */
export function registerKeyRoutes(
  app: PluginRoutes,
  cache: CacheApi,
  options: CacheResourceOptions,
): void {
  const s = options.schemas;

  // `/keys/` names the empty key, which the route pattern cannot capture.
  app.all("/keys/", () => {
    throw cacheError("cache.key_invalid", {
      detail: "path.key: must not be empty",
      field: "path.key",
    });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{key}",
      summary: "Read a value (HEAD: its size, type, TTL and ETag only)",
      description: "Answers the value's ETag. `If-None-Match` (a tag list or `*`, weak " +
        "comparison) answers 304 when it matches; `If-Match` (strong comparison) 412 when not.",
      tags: TAGS,
      // If-Match and If-None-Match are parsed by conditionsOf, not by a header schema: zod
      // validation of the headers would cost every plain read (see the description instead).
      request: { params: s.KeyPath },
      responses: {
        200: binary("The value's bytes, with the content type it was stored with"),
        304: { description: "If-None-Match matched the value's ETag" },
        400: problemResponse("Invalid key, or a malformed or unsupported conditional header"),
        404: problemResponse("No such key (or it expired)"),
        409: problemResponse("The key holds a hash"),
        412: problemResponse("If-Match listed no tag of the value"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const conditions = conditionsOf(c.req.raw.headers, { ifMatch: true, ifNoneMatch: "tags" });
      if (c.req.method === "HEAD") {
        const info = await cache.stat(key);
        if (!info) throw notFound(key);
        return readPrecondition(key, conditions, info.etag) ?? valueResponse(null, info);
      }
      const entry = await cache.get(key);
      if (!entry) throw notFound(key);
      // A driver's bytes always sit on an ArrayBuffer (never a SharedArrayBuffer).
      return readPrecondition(key, conditions, entry.etag) ??
        valueResponse(entry.value as Uint8Array<ArrayBuffer>, entry);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/keys/{key}",
      summary: "Store a value (the request body, with its content type)",
      description: "Answers the stored value's ETag. `If-Match` (a tag list, strong comparison, " +
        "or `*`) stores only over a matching value, `If-None-Match: *` only where the key " +
        "holds nothing; either is checked and written atomically, 412 when it fails.",
      tags: TAGS,
      request: {
        params: s.KeyPath,
        query: s.TtlQuery,
        headers: s.PutHeaders,
        body: {
          required: true,
          content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
        },
      },
      responses: {
        201: { description: "Created" },
        204: { description: "Replaced" },
        400: problemResponse("Invalid key, TTL or content type, or a malformed conditional header"),
        412: problemResponse(
          "If-Match listed no tag of the value (cache.precondition_failed), or " +
            "If-None-Match: * and the key exists (cache.key_exists)",
        ),
        413: problemResponse(`Value larger than ${options.maxValueSize} bytes`),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const { ttl } = c.req.valid("query");
      const conditions = conditionsOf(c.req.raw.headers, { ifMatch: true, ifNoneMatch: "star" });
      const declared = Number(c.req.header("content-length"));
      if (declared > options.maxValueSize) throw tooLarge(declared, options.maxValueSize);
      const contentType = c.req.header("content-type") ?? DEFAULT_CONTENT_TYPE;
      if (!CONTENT_TYPE.test(contentType)) {
        throw coreError("core.validation_failed", {
          detail: "header.content-type: expected 1 to 255 printable ASCII characters",
          field: "header.content-type",
        });
      }
      const value = new Uint8Array(await c.req.arrayBuffer());
      if (value.byteLength > options.maxValueSize) {
        throw tooLarge(value.byteLength, options.maxValueSize);
      }
      const outcome = await cache.set(key, value, {
        contentType,
        ifAbsent: conditions.ifNoneMatch === "*",
        ...(conditions.ifMatch === undefined ? {} : { ifMatch: conditions.ifMatch }),
        ...(ttl === undefined ? {} : { ttlMs: ttl }),
      });
      if (outcome === "precondition_failed") throw preconditionFailed(key);
      if (outcome === "exists") {
        throw cacheError("cache.key_exists", {
          detail: `Key ${quoted(key)} already exists (If-None-Match: *)`,
          field: "header.if-none-match",
        });
      }
      c.header("etag", entityTag(value, contentType));
      return c.body(null, outcome === "created" ? 201 : 204);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/keys/{key}",
      summary: "Delete a key (a value or a hash)",
      description: "`If-Match` (a tag list, strong comparison, or `*`) deletes only a matching " +
        "value, checked and deleted atomically; 412 when it does not match.",
      tags: TAGS,
      request: { params: s.KeyPath, headers: s.DeleteHeaders },
      responses: {
        204: { description: "Deleted" },
        400: problemResponse("Invalid key, or a malformed or unsupported conditional header"),
        404: problemResponse("No such key"),
        412: problemResponse("If-Match listed no tag of the value"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const { ifMatch } = conditionsOf(c.req.raw.headers, { ifMatch: true });
      const deleted = await cache.delete(key, ifMatch === undefined ? {} : { ifMatch })
        .catch((error) => {
          if (error instanceof EdgeboxError && error.code === "cache.precondition_failed") {
            throw preconditionFailed(key);
          }
          throw error;
        });
      if (!deleted) throw notFound(key);
      return c.body(null, 204);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/keys/{key}/incr",
      summary: "Add to an integer counter atomically (creates it at 0)",
      tags: TAGS,
      request: { params: s.KeyPath, query: s.IncrQuery },
      responses: {
        200: jsonResponse(z.object({ key: z.string(), value: z.number().int() }), "The new value"),
        400: problemResponse("Invalid key, increment or TTL"),
        409: problemResponse("The value is not an integer (or the key holds a hash)"),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const { by, ttl } = c.req.valid("query");
      const value = await cache.incr(key, {
        ...(by === undefined ? {} : { by }),
        ...(ttl === undefined ? {} : { ttlMs: ttl }),
      });
      return c.json({ key, value }, 200);
    },
    cacheHook,
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/keys",
      summary: "List keys by prefix, a page at a time",
      description: "`?limit=&cursor=` in, `{ keys, cursor }` out: send `cursor` back for the " +
        "next page until it is null. Pages may be short, even empty, before the end. A key " +
        "present for the whole listing is listed exactly once. A cursor is bound to its " +
        "listing: sent with another prefix it is 400 cache.cursor_invalid.",
      tags: TAGS,
      request: { query: s.ListQuery },
      responses: {
        200: jsonResponse(KeyPageSchema, "A page of keys"),
        400: problemResponse(
          "Invalid prefix or limit, or a cursor this listing did not return " +
            "(cache.cursor_invalid)",
        ),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { prefix, cursor, limit } = c.req.valid("query");
      const page = await cache.list({
        limit,
        ...(prefix === undefined ? {} : { prefix }),
        ...(cursor === undefined ? {} : { cursor }),
      }).catch((error) => {
        throw inQuery(error);
      });
      return c.json({ keys: page.keys, cursor: page.cursor ?? null }, 200);
    },
    cacheHook,
  );
}

function tooLarge(size: number, limit: number) {
  return cacheError("cache.value_too_large", {
    detail: `body: the value is ${size} bytes; the limit is ${limit}`,
    field: "body",
    extra: { limit },
  });
}
