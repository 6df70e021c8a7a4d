/** One structured log line per request, labelled by route template, never by raw path. */
import type { Logger } from "./log.ts";

/** What the access log records about one finished request. */
export interface AccessRecord {
  method: string;
  /** Route template (`/v1/cache/keys/:key`) or `(unmatched)`: bounded, unlike raw paths. */
  route: string;
  /**
   * The request's path, for unmatched routes only (a 404 must be debuggable from the log): the
   * decoded path without its query (where secrets such as signatures travel), cut at
   * {@linkcode MAX_LOGGED_PATH} characters.
   */
  path?: string;
  status: number;
  /** The client's address (behind `server.trustedProxies`, the one they forwarded for). */
  client?: string;
  requestId: string;
  /** Milliseconds from arrival to response headers. */
  durationMs: number;
  /** The request's trace, when tracing is on. */
  traceId?: string;
}

/** Longest path written to an access line; a longer one ends with `...`. */
export const MAX_LOGGED_PATH = 512;

/** What JSON needs escaped in a string; route templates, methods and ids never hold any. */
// deno-lint-ignore no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Writes one `request` line at info level, its JSON built directly (it is written per request). */
export function logAccess(log: Logger, record: AccessRecord): void {
  if (!log.enabled("info")) return;
  const trace = record.traceId === undefined ? "" : `,"traceId":${jsonString(record.traceId)}`;
  const client = record.client === undefined ? "" : `,"client":${jsonString(record.client)}`;
  const path = record.path === undefined ? "" : `,"path":${
    jsonString(
      record.path.length > MAX_LOGGED_PATH
        ? `${record.path.slice(0, MAX_LOGGED_PATH)}...`
        : record.path,
    )
  }`;
  log.infoJson(
    "request",
    `"method":${jsonString(record.method)},"route":${
      jsonString(record.route)
    }${path},"status":${record.status}${client},"requestId":${
      jsonString(record.requestId)
    },"durationMs":${record.durationMs}${trace}`,
  );
}
