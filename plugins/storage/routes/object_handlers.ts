/**
 * The object handlers both the API and presigned URLs use: read (GET/HEAD, ranges, 304) and
 * write (PUT, streamed and checked as it flows), with the request's conditional headers.
 */
import type { Context } from "hono";
import type { AppEnv } from "../../../core/http_env.ts";
import {
  type ConditionalMethod,
  evaluatePreconditions,
  parsePreconditions,
  preconditionFailed,
  type Preconditions,
} from "../conditions.ts";
import type { StorageDriver } from "../driver.ts";
import { tooLarge } from "../errors.ts";
import { notModifiedHeaders, objectHeaders, readPutHeaders } from "../object_headers.ts";
import { parseRange } from "../ranges.ts";
import { checkedBody, countedStream } from "../streams.ts";
import type { StorageRoutesOptions } from "./options.ts";

/** The request context of a storage route. */
export type StorageContext = Context<AppEnv>;

const emptyBody = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/** The request's conditional headers as driver options (nothing when there are none). */
export function conditionsOf(
  c: StorageContext,
  method: ConditionalMethod,
): { conditions?: Preconditions } {
  const conditions = parsePreconditions(c.req.raw.headers, method);
  return Object.keys(conditions).length > 0 ? { conditions } : {};
}

/**
 * Where the core mounts the instance's routes. Taken once from the instance name (what the core
 * mounts by) rather than per request: the request context carries the path, not the mount.
 */
function mountOf(options: StorageRoutesOptions): string {
  return `/v1/${options.instance}`;
}

/** The object handlers both the API and presigned URLs use. */
export function objectHandlers(driver: StorageDriver, options: StorageRoutesOptions) {
  const objects = `${mountOf(options)}/objects/`;
  return {
    /** GET and HEAD: stream the object (or a range of it) with its headers, or 304. */
    async read(c: StorageContext, key: string): Promise<Response> {
      const method = c.req.raw.method === "HEAD" ? "HEAD" : "GET";
      const conditions = parsePreconditions(c.req.raw.headers, method);
      if (method === "HEAD") {
        const info = await driver.head(key);
        const outcome = evaluatePreconditions(info, conditions, "HEAD");
        if (outcome.kind === "failed") throw preconditionFailed(key, outcome.field);
        if (outcome.kind === "not_modified") {
          return new Response(null, {
            status: 304,
            headers: notModifiedHeaders(info.etag, info.lastModified, info.headers),
          });
        }
        return new Response(null, { status: 200, headers: objectHeaders(info) });
      }
      const range = parseRange(c.req.raw.headers.get("range"));
      const result = await driver.get(key, {
        conditions,
        ...(range ? { range } : {}),
      });
      if (result.kind === "not_modified") {
        return new Response(null, {
          status: 304,
          headers: notModifiedHeaders(result.etag, result.lastModified, result.headers),
        });
      }
      const body = options.onBytesOut
        ? countedStream(result.body, options.onBytesOut)
        : result.body;
      return new Response(body, {
        status: result.range ? 206 : 200,
        headers: objectHeaders(result.info, result.range),
      });
    },

    /**
     * PUT: stream the request body into the object, checking size and checksums as it flows;
     * conditional headers are checked against the object replaced, atomically with the write.
     */
    async write(c: StorageContext, key: string): Promise<Response> {
      const request = c.req.raw;
      const put = readPutHeaders(request.headers, options);
      // Parsed before the body flows, so a malformed condition costs no upload.
      const conditions = conditionsOf(c, "PUT");
      const declared = Number(request.headers.get("content-length") ?? "NaN");
      if (declared > options.maxObjectSize) throw tooLarge(options.maxObjectSize);
      const checked = checkedBody(request.body ?? emptyBody(), {
        maxSize: options.maxObjectSize,
        checksums: put.checksums,
        ...(options.onBytesIn ? { onBytes: options.onBytesIn } : {}),
      });
      const written = await driver.put(key, checked.stream, {
        contentType: put.contentType,
        metadata: put.metadata,
        headers: put.headers,
        ...conditions,
      });
      return c.json(written, 201, {
        ETag: written.etag,
        Location: objects + key.split("/").map(encodeURIComponent).join("/"),
      });
    },
  };
}
