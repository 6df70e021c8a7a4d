/**
 * The zod schemas of the cache's HTTP API, built from the instance's limits. A key or field
 * that breaks the naming rules, or a value over `maxValueSize`, carries its own cache code in
 * the zod issue (`params.cacheCode`), so the route hook answers `cache.key_invalid` (400) or
 * `cache.value_too_large` (413) naming the field, rather than a generic validation failure.
 */
import { z } from "@hono/zod-openapi";
import { parseDuration } from "../../core/units.ts";
import { type CacheConfig, MAX_TTL_MS } from "./config.ts";
import { MAX_CURSOR_LENGTH } from "./cursor.ts";
import type { CacheErrorCode } from "./errors.ts";
import { keyProblem, nameProblem, utf8Length } from "./keys.ts";

/** The limits the schemas enforce. */
export interface CacheRouteLimits {
  readonly maxKeyBytes: number;
  readonly maxFieldBytes: number;
  readonly maxValueSize: number;
  readonly maxHashFields: number;
  readonly maxBatchSize: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
}

/** What the routes enforce: the limits, with the page size of a listing that names none. */
export function routeLimitsOf(config: CacheConfig): CacheRouteLimits {
  return {
    maxKeyBytes: config.maxKeyBytes,
    maxFieldBytes: config.maxFieldBytes,
    maxValueSize: config.maxValueSize,
    maxHashFields: config.maxHashFields,
    maxBatchSize: config.maxBatchSize,
    defaultPageSize: config.defaultPageSize ?? Math.min(100, config.maxPageSize),
    maxPageSize: config.maxPageSize,
  };
}

/** Zod issue params naming the cache code an issue maps to. */
export interface CacheIssueParams {
  cacheCode: CacheErrorCode;
}

type Ctx = z.RefinementCtx;

function issue(ctx: Ctx, message: string, code: CacheErrorCode, path: PropertyKey[] = []) {
  ctx.addIssue({ code: "custom", message, path, params: { cacheCode: code } });
}

/** A key or field name (see keyProblem), or with `minBytes` 0 a listing prefix (no segment rule). */
function name(maxBytes: number, code: CacheErrorCode, minBytes = 1) {
  return z.string().superRefine((value, ctx) => {
    const problem = minBytes === 0 ? nameProblem(value, maxBytes, 0) : keyProblem(value, maxBytes);
    if (problem !== undefined) issue(ctx, problem, code);
  });
}

/** A TTL as a duration (`500ms`, `60s`, `1h`); parsed to milliseconds. */
export const TtlSchema = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1 || ms > MAX_TTL_MS) {
    ctx.addIssue({
      code: "custom",
      message: "Expected a duration from 1ms to 10 years, such as 500ms, 60s, 5m, 1h or 7d",
    });
    return z.NEVER;
  }
  return ms;
}).openapi({ type: "string", example: "60s" });

/** Every request schema of one cache instance. */
export function cacheSchemas(limits: CacheRouteLimits) {
  const Key = name(limits.maxKeyBytes, "cache.key_invalid").openapi({
    description:
      `1 to ${limits.maxKeyBytes} bytes of UTF-8, no control characters, no . or .. segment`,
    example: "session:42",
  });
  const Field = name(limits.maxFieldBytes, "cache.field_invalid").openapi({
    description:
      `1 to ${limits.maxFieldBytes} bytes of UTF-8, no control characters, no . or .. segment`,
    example: "user",
  });

  const KeyPath = z.object({ key: Key });
  const FieldPath = z.object({ key: Key, field: Field });

  const TtlQuery = z.object({ ttl: TtlSchema.optional() });

  const IncrQuery = z.object({
    by: z.string().regex(/^-?\d{1,16}$/, "Expected an integer")
      .transform(Number)
      .pipe(z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER))
      .optional()
      .openapi({ type: "string", example: "1", description: "Added to the counter (default 1)" }),
    ttl: TtlSchema.optional().openapi({
      type: "string",
      description: "Expiry of a counter this call creates; an existing counter keeps its own",
    }),
  });

  // Conditional headers are parsed and checked in conditions.ts (strict RFC 9110 syntax, a 400
  // naming the header); these schemas only document them.
  const ifMatch = (description: string) =>
    z.string().optional().openapi({
      description,
      example: '"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"',
    });

  const PutHeaders = z.object({
    "if-match": ifMatch("ETags (strong comparison) or `*`: store only over a matching value"),
    "if-none-match": z.string().optional()
      .openapi({ description: "`*` only: store only when the key holds nothing (412 otherwise)" }),
  });

  const DeleteHeaders = z.object({
    "if-match": ifMatch("ETags (strong comparison) or `*`: delete only a matching value"),
  });

  const ListQuery = z.object({
    prefix: name(limits.maxKeyBytes, "cache.key_invalid", 0).optional().openapi({
      description: "Only keys starting with it",
    }),
    cursor: z.string().superRefine((cursor, ctx) => {
      if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) {
        issue(ctx, `Expected 1 to ${MAX_CURSOR_LENGTH} characters`, "cache.cursor_invalid");
      }
    }).optional().openapi({
      type: "string",
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      description: "The `cursor` of the previous page, unchanged; left out: the first page",
    }),
    limit: z.coerce.number().int().min(1).max(limits.maxPageSize)
      .default(limits.defaultPageSize)
      .openapi({
        type: "integer",
        minimum: 1,
        maximum: limits.maxPageSize,
        default: limits.defaultPageSize,
        description: `Most keys on the page; ${limits.defaultPageSize} when left out`,
      }),
  });

  const HashPatch = z.record(z.string(), z.union([z.string(), z.null()]))
    .superRefine((fields, ctx) => {
      const names = Object.keys(fields);
      if (names.length > limits.maxHashFields) {
        issue(
          ctx,
          `At most ${limits.maxHashFields} fields per hash`,
          "cache.hash_full",
        );
        return;
      }
      for (const field of names) {
        const problem = keyProblem(field, limits.maxFieldBytes);
        if (problem !== undefined) issue(ctx, problem, "cache.field_invalid", [field]);
        const value = fields[field];
        if (typeof value === "string" && utf8Length(value) > limits.maxValueSize) {
          issue(
            ctx,
            `At most ${limits.maxValueSize} bytes`,
            "cache.value_too_large",
            [field],
          );
        }
      }
    })
    .openapi("CacheHashPatch", {
      description: "Fields to set (string values); `null` removes a field",
      example: { user: "ada", theme: "dark", draft: null },
    });

  const BatchSetItem = z.strictObject({
    key: Key,
    value: z.string(),
    encoding: z.enum(["utf8", "base64"]).default("utf8"),
    contentType: z.string().regex(/^[\x21-\x7e][\x20-\x7e]{0,254}$/, "Expected a media type")
      .optional(),
    ttl: TtlSchema.optional(),
  }).transform((item, ctx) => {
    let bytes: Uint8Array;
    if (item.encoding === "base64") {
      try {
        bytes = Uint8Array.fromBase64(item.value);
      } catch {
        ctx.addIssue({ code: "custom", message: "Expected base64", path: ["value"] });
        return z.NEVER;
      }
    } else bytes = new TextEncoder().encode(item.value);
    if (bytes.byteLength > limits.maxValueSize) {
      issue(ctx, `At most ${limits.maxValueSize} bytes`, "cache.value_too_large", ["value"]);
      return z.NEVER;
    }
    return {
      key: item.key,
      value: bytes,
      ...(item.contentType === undefined ? {} : { contentType: item.contentType }),
      ...(item.ttl === undefined ? {} : { ttlMs: item.ttl }),
    };
  });

  const Batch = z.strictObject({
    set: z.array(BatchSetItem).default([]),
    delete: z.array(Key).default([]),
    get: z.array(Key).default([]),
  }).superRefine((batch, ctx) => {
    const total = batch.set.length + batch.delete.length + batch.get.length;
    if (total > limits.maxBatchSize) {
      ctx.addIssue({
        code: "custom",
        message: `At most ${limits.maxBatchSize} operations per batch (got ${total})`,
      });
    }
  }).openapi("CacheBatch", {
    description: "Applied in order: every set, then every delete, then every get",
    example: {
      set: [{ key: "a", value: "hello", ttl: "60s" }],
      delete: ["b"],
      get: ["a", "c"],
    },
  });

  return {
    KeyPath,
    FieldPath,
    TtlQuery,
    IncrQuery,
    PutHeaders,
    DeleteHeaders,
    ListQuery,
    HashPatch,
    Batch,
  };
}

/** A `GET /hashes/{key}` answer. */
export const HashSchema = z.object({
  key: z.string(),
  fields: z.record(z.string(), z.string()),
  ttl: z.number().int().nullable().openapi({ description: "Seconds left; null: no expiry" }),
}).openapi("CacheHash");

/** A `GET /keys` page, in the listing convention every list route shares. */
export const KeyPageSchema = z.object({
  keys: z.array(z.string()),
  cursor: z.string().nullable().openapi({
    description: "Always present: the opaque cursor to send back as `?cursor=` for the next " +
      "page, or null on the last page",
  }),
}).openapi("CacheKeyPage");

/** A batch answer. */
export const BatchResultSchema = z.object({
  set: z.array(z.object({ key: z.string(), created: z.boolean() })),
  delete: z.array(z.object({ key: z.string(), deleted: z.boolean() })),
  get: z.array(z.object({
    key: z.string(),
    found: z.boolean(),
    value: z.string().optional(),
    encoding: z.enum(["utf8", "base64"]).optional(),
    contentType: z.string().optional(),
    ttl: z.number().int().nullable().optional(),
    code: z.string().optional().openapi({ description: "cache.wrong_type: the key holds a hash" }),
  })),
}).openapi("CacheBatchResult");
