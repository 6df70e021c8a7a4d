/** A value read's answer: 200 with its bytes and headers, 304, or 412 by its preconditions. */
import { type Conditions, ifNoneMatchMatches } from "../conditions.ts";
import { ifMatchHolds } from "../etag.ts";
import { preconditionFailed } from "./request_errors.ts";
import { ttlSeconds } from "./ttl.ts";

/**
 * A value's answer: its bytes (none for HEAD) and headers. A body's length is Deno's to send;
 * only a HEAD answer, which has none, states it. Every header costs a request measurably (see
 * bench/cache.ts), and Deno builds a Response whose init holds only the content type
 * markedly faster than one whose init holds more, so the rest are set afterwards.
 */
export function valueResponse(
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
export function readPrecondition(key: string, conditions: Conditions, etag: string) {
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
