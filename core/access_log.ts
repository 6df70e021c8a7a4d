/** One structured log line per request, labelled by route template, never by raw path. */
import type { Logger } from "./log.ts";

/** What the access log records about one finished request. */
export interface AccessRecord {
  method: string;
  /** Route template (`/v1/cache/keys/:key`) or `(unmatched)`: bounded, unlike raw paths. */
  route: string;
  status: number;
  requestId: string;
  /** Milliseconds from arrival to response headers. */
  durationMs: number;
  /** The request's trace, when tracing is on. */
  traceId?: string;
}

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
  log.infoJson(
    "request",
    `"method":${jsonString(record.method)},"route":${
      jsonString(record.route)
    },"status":${record.status},"requestId":${
      jsonString(record.requestId)
    },"durationMs":${record.durationMs}${trace}`,
  );
}
