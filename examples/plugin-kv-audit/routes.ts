/**
 * HTTP routes of the audit plugin, written only against {@linkcode AuditDriver}: values pass
 * through as bytes with their content type, the trail is JSON and pages like every edgebox list.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  coreError,
  createRouter,
  CursorError,
  decodeCursor,
  EdgeboxError,
  encodeCursor,
  jsonResponse,
  type PluginRoutes,
  problemResponse,
} from "../../mod.ts";
import { conditionsOf, strongMatch, weakMatch } from "./conditions.ts";
import type { AuditDriver } from "./driver.ts";
import { auditError, quoted } from "./errors.ts";
import { keyProblem } from "./keys.ts";

/** Options of {@linkcode auditRoutes}. */
export interface AuditRoutesOptions {
  /** The instance name, which binds cursors to this instance's trail. */
  instance: string;
  maxKeyBytes: number;
  defaultPageSize: number;
  maxPageSize: number;
}

const TAGS = ["audit"];
/** 1 to 255 printable ASCII characters, as the key-value store takes them. */
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;
const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** One change in the trail. */
export const AuditRecordSchema = z.object({
  seq: z.number().int().openapi({ description: "1, 2, 3... in the order the changes were made" }),
  at: z.string().openapi({ description: "When (ISO 8601, UTC)", example: "2025-01-01T00:00:00Z" }),
  action: z.enum(["put", "delete"]),
  key: z.string(),
  size: z.number().int().optional().openapi({ description: "Bytes stored (put only)" }),
  etag: z.string().optional().openapi({ description: "Entity tag of the value (put only)" }),
  principal: z.string().openapi({ description: "The API key name that made the change" }),
}).openapi("AuditRecord");

/** A page of the trail, newest first. */
export const AuditLogPageSchema = z.object({
  records: z.array(AuditRecordSchema),
  cursor: z.string().nullable().openapi({
    description: "Pass back as ?cursor= for the next (older) page; null on the last page",
  }),
}).openapi("AuditLogPage");

const binary = (description: string) => ({
  description,
  content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
});

/** Builds the audit sub-app. */
export function auditRoutes(driver: AuditDriver, options: AuditRoutesOptions): PluginRoutes {
  const app = createRouter();
  const KeyPath = z.object({
    key: z.string().openapi({
      description: `1 to ${options.maxKeyBytes} bytes of UTF-8, no control characters, ` +
        "no . or .. segment",
      example: "greeting",
    }),
  });

  /** The path's key, checked; a 400 `audit.key_invalid` naming `path.key` otherwise. */
  const keyOf = (raw: { key: string }): string => {
    const problem = keyProblem(raw.key, options.maxKeyBytes);
    if (problem !== undefined) {
      throw auditError("audit.key_invalid", { detail: `path.key ${problem}`, field: "path.key" });
    }
    return raw.key;
  };

  // `/kv/` names the empty key, which the route pattern cannot capture.
  app.all("/kv/", () => {
    throw auditError("audit.key_invalid", {
      detail: "path.key must not be empty",
      field: "path.key",
    });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/kv/{key}",
      summary: "Read a value (HEAD: its headers only)",
      description: "Answers the value's ETag. `If-None-Match` (a tag list or `*`, weak " +
        "comparison) answers 304 when it matches; `If-Match` (strong comparison) 412 when not.",
      tags: TAGS,
      request: { params: KeyPath },
      responses: {
        200: binary("The value's bytes, with the content type it was stored with"),
        304: { description: "If-None-Match matched the value's ETag" },
        400: problemResponse("Invalid key, or a malformed or unsupported conditional header"),
        404: problemResponse("No such key"),
        412: problemResponse("If-Match listed no tag of the value"),
        503: problemResponse("Store unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const key = keyOf(c.req.valid("param"));
      const conditions = conditionsOf(c.req.raw.headers, { ifMatch: true, ifNoneMatch: "tags" });
      const entry = await driver.get(key).catch(atPathKey);
      if (!entry) throw notFound(key);
      if (conditions.ifMatch !== undefined && !strongMatch(conditions.ifMatch, entry.etag)) {
        throw preconditionFailed(key);
      }
      if (conditions.ifNoneMatch !== undefined && weakMatch(conditions.ifNoneMatch, entry.etag)) {
        return c.body(null, 304, { etag: entry.etag });
      }
      const headers = { "content-type": entry.contentType, etag: entry.etag };
      if (c.req.method === "HEAD") {
        // No body to measure, so the length the GET would send is stated here.
        return c.body(null, 200, { ...headers, "content-length": String(entry.value.byteLength) });
      }
      // A store's bytes sit on an ArrayBuffer (never a SharedArrayBuffer).
      return c.body(entry.value as Uint8Array<ArrayBuffer>, 200, headers);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/kv/{key}",
      summary: "Store a value (the request body, with its content type) and record it",
      description: "Answers the stored value's ETag. `If-Match` (a tag list, strong comparison, " +
        "or `*`) stores only over a matching value, `If-None-Match: *` only where the key holds " +
        "nothing; checked and written atomically by the store, 412 when it fails. A refused " +
        "write is not recorded.",
      tags: TAGS,
      request: {
        params: KeyPath,
        body: {
          required: true,
          content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
        },
      },
      responses: {
        201: { description: "Created (and recorded)" },
        204: { description: "Replaced (and recorded)" },
        400: problemResponse("Invalid key or content type, or a malformed conditional header"),
        412: problemResponse("If-Match or If-None-Match: * did not hold"),
        413: problemResponse("Value too large"),
        503: problemResponse("Store unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const key = keyOf(c.req.valid("param"));
      const conditions = conditionsOf(c.req.raw.headers, { ifMatch: true, ifNoneMatch: "star" });
      const contentType = c.req.header("content-type") ?? DEFAULT_CONTENT_TYPE;
      if (!CONTENT_TYPE.test(contentType)) {
        throw coreError("core.validation_failed", {
          detail: "header.content-type: expected 1 to 255 printable ASCII characters",
          field: "header.content-type",
        });
      }
      const value = new Uint8Array(await c.req.arrayBuffer());
      const result = await driver.put(key, value, {
        contentType,
        principal: c.env.principal.name,
        ...(conditions.ifMatch === undefined ? {} : { ifMatch: conditions.ifMatch }),
        ...(conditions.ifNoneMatch === "*" ? { ifAbsent: true } : {}),
      }).catch(atPathKey);
      if (result.outcome === "created" || result.outcome === "replaced") {
        return c.body(null, result.outcome === "created" ? 201 : 204, {
          etag: result.record.etag!,
        });
      }
      throw preconditionFailed(key, result.outcome === "exists" ? "if-none-match" : "if-match");
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/kv/{key}",
      summary: "Delete a value and record it",
      description: "`If-Match` (a tag list, strong comparison, or `*`) deletes only a matching " +
        "value, checked and deleted atomically by the store; 412 when it does not match (or " +
        "nothing is there). A refused delete is not recorded.",
      tags: TAGS,
      request: { params: KeyPath },
      responses: {
        204: { description: "Deleted (and recorded)" },
        400: problemResponse("Invalid key, or a malformed or unsupported conditional header"),
        404: problemResponse("No such key"),
        412: problemResponse("If-Match listed no tag of the value"),
        503: problemResponse("Store unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const key = keyOf(c.req.valid("param"));
      const { ifMatch } = conditionsOf(c.req.raw.headers, { ifMatch: true });
      const result = await driver.delete(key, {
        principal: c.env.principal.name,
        ...(ifMatch === undefined ? {} : { ifMatch }),
      }).catch(atPathKey);
      if (result.outcome === "absent") throw notFound(key);
      if (result.outcome === "precondition_failed") throw preconditionFailed(key);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/log",
      summary: "The audit trail, newest first, a page at a time",
      description: "Follow `cursor` until it is null. A record present for the whole listing " +
        "is listed exactly once; changes made meanwhile are newer than the first page and " +
        "appear on the next listing. The oldest records are dropped past `maxRecords`.",
      tags: TAGS,
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(options.maxPageSize).optional().openapi({
            description: `Most records on the page (default ${options.defaultPageSize})`,
          }),
          cursor: z.string().optional().openapi({
            description: "The cursor of the previous page",
          }),
        }),
      },
      responses: {
        200: jsonResponse(AuditLogPageSchema, "A page of the trail"),
        400: problemResponse("Invalid limit or cursor"),
        503: problemResponse("Store unavailable (with Retry-After)"),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      // Every route states the conditions it honours; the trail honours none.
      conditionsOf(c.req.raw.headers, {});
      // The trail id binds a cursor to this trail: one from another instance, another listing or
      // an earlier (restarted) trail is refused rather than misread.
      const scope = `audit.log:${options.instance}:${driver.trailId}`;
      const before = cursor === undefined ? undefined : positionOf(cursor, scope);
      const page = await driver.log({
        limit: limit ?? options.defaultPageSize,
        ...(before === undefined ? {} : { before }),
      });
      return c.json({
        records: page.records,
        cursor: page.next === undefined ? null : encodeCursor(scope, page.next),
      }, 200);
    },
  );

  return app;
}

/** The `before` seq inside a cursor; 400 `audit.cursor_invalid` naming `query.cursor`. */
function positionOf(cursor: string, scope: string): number {
  let position: unknown;
  try {
    position = decodeCursor(cursor, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw cursorInvalid(error.message, error);
  }
  if (!Number.isSafeInteger(position) || (position as number) < 1) {
    throw cursorInvalid("The cursor is not one this API returned");
  }
  return position as number;
}

function cursorInvalid(detail: string, cause?: unknown) {
  return auditError("audit.cursor_invalid", {
    detail: `query.cursor: ${detail}; pass back the cursor of the previous page unchanged`,
    field: "query.cursor",
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A key the driver refused (naming `key`) is a fault of the request path's key. */
function atPathKey(error: unknown): never {
  if (error instanceof EdgeboxError && error.code === "audit.key_invalid") {
    throw error.at("path.key");
  }
  throw error;
}

function notFound(key: string) {
  return auditError("audit.not_found", {
    detail: `Key ${quoted(key)} not found`,
    field: "path.key",
  });
}

function preconditionFailed(key: string, header: "if-match" | "if-none-match" = "if-match") {
  return auditError("audit.precondition_failed", {
    detail: header === "if-match"
      ? `Key ${quoted(key)} does not hold a value with a tag If-Match lists`
      : `Key ${quoted(key)} already holds a value (If-None-Match: *)`,
    field: `header.${header}`,
  });
}
