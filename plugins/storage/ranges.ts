/**
 * Byte ranges (RFC 9110 section 14): parsing a `Range` header into a request, and resolving a
 * request against an object's size. One range per request; anything else is ignored, as the
 * RFC allows, and the whole object is sent.
 */

/** A requested range: from `start` (to `end`, inclusive), or the last `suffix` bytes. */
export type RangeRequest = { start: number; end?: number } | { suffix: number };

/** A resolved, satisfiable range: inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

const SINGLE = /^bytes=(\d{0,15})-(\d{0,15})$/;

/**
 * The range a `Range` header asks for; `undefined` when there is none or it must be ignored
 * (malformed, several ranges, another unit, `end` before `start`).
 */
export function parseRange(header: string | null | undefined): RangeRequest | undefined {
  if (!header) return undefined;
  const match = SINGLE.exec(header.trim().replace(/\s+/g, ""));
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") return { suffix: Number(last) };
  const start = Number(first);
  if (last === "") return { start };
  const end = Number(last);
  return end < start ? undefined : { start, end };
}

/** The range as a `Range` header value. */
export function formatRange(range: RangeRequest): string {
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ""}`;
}

/**
 * The bytes `range` selects in an object of `size` bytes, clamped to its end; `undefined` when
 * nothing can be sent (starts at or past the end, or an empty suffix).
 */
export function resolveRange(range: RangeRequest, size: number): ByteRange | undefined {
  if ("suffix" in range) {
    if (range.suffix === 0 || size === 0) return undefined;
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) return undefined;
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
