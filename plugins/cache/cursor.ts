/**
 * Key listing cursors, on the core's one opaque cursor (core/cursor.ts): a driver's position (a
 * Redis SCAN cursor and spill, an insertion sequence) bound to the listing it came from, so a
 * cursor replayed against another backend, instance or prefix is `cache.cursor_invalid`, never a
 * silent skip.
 */
import { CursorError, decodeCursor } from "../../core/cursor.ts";
import type { EdgeboxError } from "../../core/errors.ts";
import { cacheError } from "./errors.ts";

export { encodeCursor, MAX_CURSOR_LENGTH } from "../../core/cursor.ts";

/**
 * The scope of one key listing: the backend, and a digest of the instance's key prefix and the
 * listed prefix. A digest rather than the prefixes themselves, so a cursor stays a few dozen
 * characters whatever their length (a prefix may be as long as a key).
 */
export function listingScope(backend: string, keyPrefix: string, prefix: string): string {
  return `cache.keys:${backend}:${digest(`${keyPrefix}\0${prefix}`)}`;
}

/** The position in a cursor of the listing `scope`; 400 `cache.cursor_invalid` otherwise. */
export function decodeListCursor(text: string, scope: string): unknown {
  try {
    return decodeCursor(text, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw invalidCursor(error.message);
  }
}

/** The error for a cursor that names no position of its listing. */
export function invalidCursor(
  detail = "The cursor is not one this API returned; pass back the previous page's unchanged",
): EdgeboxError {
  return cacheError("cache.cursor_invalid", { detail, field: "cursor" });
}

/** cyrb53: a fast 53-bit string hash (not cryptographic: it tells listings apart, no more). */
function digest(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
