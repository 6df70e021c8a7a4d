/** `POST /batch`: sets, then deletes, then gets, in one round trip. */
import { createRoute } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import type { CacheApi, CacheEntry } from "../driver.ts";
import { BatchResultSchema } from "../schemas.ts";
import { cacheHook, TAGS } from "./openapi.ts";
import type { CacheResourceOptions } from "./options.ts";
import { inBody } from "./request_errors.ts";
import { ttlSeconds } from "./ttl.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Registers the batch route on `app`. */
export function registerBatchRoutes(
  app: PluginRoutes,
  cache: CacheApi,
  options: CacheResourceOptions,
): void {
  const s = options.schemas;

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
