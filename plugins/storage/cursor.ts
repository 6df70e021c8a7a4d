/**
 * Object listing cursors, on the core's one opaque cursor (core/cursor.ts): the backend's own
 * position (an S3 continuation token, the filesystem's last key) bound to the listing it came
 * from, so a cursor replayed against another instance, backend, prefix or delimiter is refused
 * (400 `storage.cursor_invalid`) rather than silently skipping or repeating keys.
 */
import { createHash } from "node:crypto";
import { CursorError, decodeCursor } from "../../core/cursor.ts";
import { storageError } from "./errors.ts";

export { encodeCursor } from "../../core/cursor.ts";

/**
 * The scope of one listing. The prefix and delimiter enter as a digest, so a cursor stays short
 * whatever their length (a prefix may be as long as a key, and the position may be a key too).
 */
export function listingScope(base: string, prefix: string, delimiter: string): string {
  // 22 characters of base64url: 132 bits of SHA-256, plenty to tell listings apart.
  const digest = createHash("sha256").update(`${prefix}\0${delimiter}`).digest("base64url");
  return `${base}:${digest.slice(0, 22)}`;
}

/** The backend position inside a client's cursor of the listing `scope`; 400 otherwise. */
export function decodeListCursor(text: string, scope: string): string {
  let position: unknown;
  try {
    position = decodeCursor(text, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw invalidCursor(error.message);
  }
  if (typeof position !== "string" || position === "") {
    throw invalidCursor("The cursor is not one this API returned");
  }
  return position;
}

/** `storage.cursor_invalid`, naming the query parameter. */
export function invalidCursor(detail: string) {
  return storageError("storage.cursor_invalid", { detail, field: "query.cursor" });
}
