/**
 * The one opaque listing cursor: a listing's position as base64url over UTF-8 JSON (any key, any
 * script), bound to the listing it came from (a cursor replayed against another prefix or route is
 * refused, never silently skipped) and capped in length.
 *
 * Every list route pages the same way: `?limit=&cursor=` in, `{ <items>: [...], cursor }` out,
 * where `cursor` is a string to send back for the next page, or `null` on the last one.
 */

/** Longest cursor accepted back, in characters. */
export const MAX_CURSOR_LENGTH = 4_096;

/** Why a cursor was refused (the plugin turns it into its own `*.cursor_invalid`). */
export class CursorError extends Error {
  override readonly name = "CursorError";
}

/** Encodes `position` for the listing `scope` (any JSON value: a key, an offset, a backend's). */
export function encodeCursor(scope: string, position: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ s: scope, p: position }));
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The position inside a cursor of the listing `scope`; throws {@linkcode CursorError}. */
export function decodeCursor(text: string, scope: string): unknown {
  if (text.length > MAX_CURSOR_LENGTH) {
    throw new CursorError(`The cursor is longer than ${MAX_CURSOR_LENGTH} characters`);
  }
  let parsed: { s?: unknown; p?: unknown };
  try {
    const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new CursorError("The cursor is not one this API returned");
  }
  if (parsed === null || typeof parsed !== "object" || parsed.s !== scope) {
    throw new CursorError("The cursor belongs to another listing; start again without one");
  }
  return parsed.p;
}
