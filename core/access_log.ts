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

/** Writes one `request` line at info level. */
export function logAccess(log: Logger, record: AccessRecord): void {
  if (log.enabled("info")) log.info("request", record as unknown as Record<string, unknown>);
}
