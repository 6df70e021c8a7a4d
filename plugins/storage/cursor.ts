/**
 * Listing cursors as clients see them: the backend's own cursor wrapped with the prefix and
 * delimiter it belongs to, so a cursor replayed against another listing is refused (400)
 * rather than silently skipping or repeating keys. Also the plugin's one base64url codec.
 */
import { storageError } from "./errors.ts";

/** The listing a cursor belongs to. */
export interface CursorScope {
  prefix: string;
  delimiter: string;
}

function invalid(detail: string) {
  return storageError("storage.cursor_invalid", { detail, field: "query.cursor" });
}

/** Bytes as unpadded base64url (RFC 4648 section 5), safe in a query string. */
export function toBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The bytes of base64url text; throws `SyntaxError` when it is not base64url. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

/** Text (any Unicode) as base64url over its UTF-8 bytes. */
export function encodeText(text: string): string {
  return toBase64Url(new TextEncoder().encode(text));
}

/** The text inside {@linkcode encodeText}'s output; throws when it is not valid base64url UTF-8. */
export function decodeText(text: string): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(fromBase64Url(text));
}

/** Wraps a backend cursor for a client. */
export function wrapCursor(inner: string, scope: CursorScope): string {
  return encodeText(JSON.stringify({ v: 1, p: scope.prefix, d: scope.delimiter, c: inner }));
}

/** The backend cursor inside a client's cursor; throws `storage.cursor_invalid`. */
export function unwrapCursor(text: string, scope: CursorScope): string {
  let parsed: { v?: unknown; p?: unknown; d?: unknown; c?: unknown };
  try {
    parsed = JSON.parse(decodeText(text));
  } catch {
    throw invalid("The cursor is not one this API returned");
  }
  if (parsed?.v !== 1 || typeof parsed.c !== "string") {
    throw invalid("The cursor is not one this API returned");
  }
  if (parsed.p !== scope.prefix || parsed.d !== scope.delimiter) {
    throw invalid("The cursor belongs to a listing with another prefix or delimiter");
  }
  return parsed.c;
}
