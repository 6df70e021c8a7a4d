/**
 * Listing cursors: a driver's position (a Redis SCAN cursor, an insertion sequence) wrapped as
 * opaque base64url text, so clients never depend on a backend's cursor format.
 */
import { cacheError } from "./errors.ts";

/** Longest cursor accepted from a client, in characters. */
export const MAX_CURSOR_LENGTH = 16_384;

/** Wraps a driver's position as an opaque cursor; `tag` says which driver it belongs to. */
export function encodeCursor(tag: string, parts: readonly (string | number)[]): string {
  return new TextEncoder().encode(JSON.stringify([tag, ...parts]))
    .toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Unwraps a cursor made by {@linkcode encodeCursor} with the same `tag`; 400 otherwise. */
export function decodeCursor(tag: string, cursor: string): unknown[] {
  const invalid = (why: string) =>
    cacheError("cache.cursor_invalid", {
      detail: `cursor ${why}; pass back the cursor of the previous page unchanged`,
      field: "cursor",
    });
  if (cursor.length > MAX_CURSOR_LENGTH) throw invalid("is too long");
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.fromBase64(cursor, { alphabet: "base64url" }),
      ),
    );
  } catch {
    throw invalid("is not one this server made");
  }
  if (!Array.isArray(parsed) || parsed[0] !== tag) {
    throw invalid("is not one this server made");
  }
  return parsed.slice(1);
}
