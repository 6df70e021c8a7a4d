/**
 * HTTP routes of the cache plugin, written only against {@linkcode CacheApi}. Values pass
 * through as bytes with their content type; everything else is JSON. Every key, field, TTL,
 * size and page is validated here (4xx naming the field) before the driver sees it.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes, routePath } from "hono/route";
import { coreError, EdgeboxError } from "../../core/errors.ts";
import type { AppEnv, PluginRoutes } from "../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../core/openapi.ts";
import { createRouter, validationError } from "../../core/routes.ts";
import {
  badCondition,
  CONDITIONAL_HEADERS,
  type ConditionalHeader,
  type Conditions,
  conditionsOf,
  ifNoneMatchMatches,
} from "./conditions.ts";
import { type CacheApi, type CacheEntry, DEFAULT_CONTENT_TYPE } from "./driver.ts";
import { cacheError, quoted } from "./errors.ts";
import { entityTag, ifMatchHolds } from "./etag.ts";
import {
  BatchResultSchema,
  type CacheIssueParams,
  type CacheRouteLimits,
  cacheSchemas,
  HashSchema,
  KeyPageSchema,
} from "./schemas.ts";

/** Options of {@linkcode cacheRoutes}. */
export type CacheRoutesOptions = CacheRouteLimits;

const TAGS = ["cache"];
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

const binary = (description: string) => ({
  description,
  headers: z.object({
    "x-cache-ttl": z.string().optional().openapi({
      description: "Seconds until the entry expires (absent: no expiry)",
    }),
  }),
  content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
});

const REQUEST_PART: Record<string, string> = {
  json: "body",
  query: "query",
  param: "path",
  header: "header",
};

/**
 * The validation hook of every cache route: an issue carrying a cache code (a bad key, a value
 * over the limit) becomes that error naming the field; anything else the core's 400.
 */
function cacheHook(
  result: { success: boolean; target: string; error?: z.ZodError },
): undefined {
  if (result.success || !result.error) return undefined;
  const codeOf = (issue: z.core.$ZodIssue) =>
    (issue as { params?: Partial<CacheIssueParams> }).params?.cacheCode;
  const found = result.error.issues.find((issue) => codeOf(issue) !== undefined);
  if (!found) throw validationError(result.target, result.error);
  const field = [REQUEST_PART[result.target] ?? result.target, ...found.path.map(String)].join(".");
  throw cacheError(codeOf(found)!, {
    detail: `${field}: ${found.message}`,
    field,
  });
}

/**
 * Hono leaves a path segment whose percent-encoding is not UTF-8 (`%FF`) undecoded, so the key
 * would silently be the literal text; refuse it instead.
 */
function refuseMalformedPath(url: string): void {
  const end = url.indexOf("?");
  const path = end === -1 ? url : url.slice(0, end);
  if (path.includes("%")) {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      if (!segment.includes("%")) continue;
      try {
        decodeURIComponent(segment);
      } catch {
        const isField = segments[i - 1] === "fields";
        throw cacheError(isField ? "cache.field_invalid" : "cache.key_invalid", {
          detail: `path.${isField ? "field" : "key"}: the percent-encoding is not valid UTF-8`,
          field: `path.${isField ? "field" : "key"}`,
        });
      }
    }
  }
}

/**
 * Refuses every conditional header a route cannot honour: no route honours the date conditions
 * or `If-Range` (values have no dates), and only the value routes (`GET`/`HEAD`/`PUT`/`DELETE
 * /keys/{key}`) evaluate `If-Match` and `If-None-Match`, checking which forms apply themselves
 * (conditionsOf). Deny by default, so a route added later cannot silently ignore one.
 */
function refuseConditions(c: Context<AppEnv>): void {
  const headers = c.req.raw.headers;
  let present: ConditionalHeader | undefined;
  for (const name of CONDITIONAL_HEADERS) {
    if (!headers.has(name)) continue;
    if (name !== "if-match" && name !== "if-none-match") {
      throw badCondition(name, "cache values have no dates; use If-Match or If-None-Match");
    }
    present ??= name;
  }
  if (present === undefined) return;
  const base = routePath(c).replace(/\/?\*$/, "");
  const valueRoute = matchedRoutes(c).some((route) =>
    route.path === `${base}/keys/:key` && route.method !== "ALL"
  );
  if (!valueRoute) throw badCondition(present, "this route cannot honour the condition");
}

/** Checks every request before its route: one middleware, as each costs a request. */
const guard: MiddlewareHandler<AppEnv> = (c, next) => {
  refuseMalformedPath(c.req.url);
  refuseConditions(c);
  return next();
};

/** Seconds left, rounded up (a live entry never shows 0); `undefined` without expiry. */
function ttlSeconds(ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : Math.ceil(ttlMs / 1000);
}

/**
 * A value's answer: its bytes (none for HEAD) and headers. A body's length is Deno's to send;
 * only a HEAD answer, which has none, states it. Every header costs a request measurably (see
 * bench/cache.ts), and Deno builds a Response whose init holds only the content type
 * markedly faster than one whose init holds more, so the rest are set afterwards.
 */
function valueResponse(
  body: Uint8Array<ArrayBuffer> | null,
  info: { contentType: string; ttlMs: number | undefined; etag: string; size?: number },
): Response {
  const response = new Response(body, {
    status: 200,
    headers: [["content-type", info.contentType]],
  });
  const headers = response.headers;
  headers.set("etag", info.etag);
  if (info.size !== undefined) headers.set("content-length", String(info.size));
  const ttl = ttlSeconds(info.ttlMs);
  if (ttl !== undefined) headers.set("x-cache-ttl", String(ttl));
  return response;
}

/** How a read ends once the value's tag is known: 412, 304, or `undefined` to answer it. */
function readPrecondition(key: string, conditions: Conditions, etag: string) {
  if (conditions.ifMatch !== undefined && !ifMatchHolds(conditions.ifMatch, etag)) {
    throw preconditionFailed(key);
  }
  if (conditions.ifNoneMatch !== undefined && ifNoneMatchMatches(conditions.ifNoneMatch, etag)) {
    const response = new Response(null, { status: 304 });
    response.headers.set("etag", etag);
    return response;
  }
  return undefined;
}

function preconditionFailed(key: string) {
  return cacheError("cache.precondition_failed", {
    detail: `Key ${quoted(key)} does not hold a value with a tag If-Match lists`,
    field: "header.if-match",
  });
}

function notFound(key: string) {
  return cacheError("cache.not_found", {
    detail: `Key ${quoted(key)} not found`,
    field: "path.key",
  });
}

function describeValue(entry: CacheEntry) {
  let value: string;
  let encoding: "utf8" | "base64";
  try {
    value = utf8.decode(entry.value);
    encoding = "utf8";
  } catch {
    value = entry.value.toBase64();
    encoding = "base64";
  }
  return { value, encoding, contentType: entry.contentType, ttl: ttlSeconds(entry.ttlMs) ?? null };
}

/** Builds the cache sub-app. */
export function cacheRoutes(cache: CacheApi, options: CacheRoutesOptions): PluginRoutes {
  const app = createRouter();
  const s = cacheSchemas(options);
  app.use("*", guard);

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

  app.openapi(
    createRoute({
      method: "post",
      path: "/batch",
      summary: "Sets, then deletes, then gets, in one round trip",
      description: "Values are UTF-8 text unless `encoding` is `base64`. A get of a key holding " +
        "a hash answers `found: false` with `code: cache.wrong_type`.",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: s.Batch } } },
      },
      responses: {
        200: jsonResponse(BatchResultSchema, "Results, in request order within each kind"),
        400: problemResponse(
          `Invalid key or value, or more than ${options.maxBatchSize} operations`,
        ),
        413: problemResponse(`A value larger than ${options.maxValueSize} bytes`),
        503: problemResponse("Backend unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const batch = c.req.valid("json");
      const result = await cache.batch(batch).catch((error) => {
        throw inBody(error);
      });
      return c.json({
        set: batch.set.map((item, i) => ({ key: item.key, created: result.set[i] === "created" })),
        delete: batch.delete.map((key, i) => ({ key, deleted: result.delete[i] === true })),
        get: batch.get.map((key, i) => {
          const found = result.get[i]!;
          if (found.status === "hit") return { key, found: true, ...describeValue(found.entry) };
          if (found.status === "wrong_type") {
            return { key, found: false, code: "cache.wrong_type" };
          }
          return { key, found: false };
        }),
      }, 200);
    },
    cacheHook,
  );

  return app;
}

function tooLarge(size: number, limit: number) {
  return cacheError("cache.value_too_large", {
    detail: `body: the value is ${size} bytes; the limit is ${limit}`,
    field: "body",
    extra: { limit },
  });
}

/**
 * A driver error about one of its arguments, re-pointed at where that argument sits in the
 * request (`prefix` -> `query.prefix`, `cursor` -> `query.cursor`, `set.2.key` ->
 * `body.set.2.key`, `fields.x` -> `body.x`).
 */
function relocate(error: unknown, part: string): unknown {
  if (!(error instanceof EdgeboxError) || error.field === undefined) return error;
  return error.at(
    error.field === "fields" ? part : `${part}.${error.field.replace(/^fields\./, "")}`,
  );
}

const inQuery = (error: unknown) => relocate(error, "query");
const inBody = (error: unknown) => relocate(error, "body");
