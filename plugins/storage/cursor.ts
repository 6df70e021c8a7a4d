/**
 * Listing cursors as clients see them: the backend's own cursor wrapped with the prefix and
 * delimiter it belongs to, so a cursor replayed against another listing is refused (400)
 * rather than silently skipping or repeating keys.
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

/** Wraps a backend cursor for a client. */
export function wrapCursor(inner: string, scope: CursorScope): string {
  const json = JSON.stringify({ v: 1, p: scope.prefix, d: scope.delimiter, c: inner });
  const bytes = new TextEncoder().encode(json);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The backend cursor inside a client's cursor; throws `storage.cursor_invalid`. */
export function unwrapCursor(text: string, scope: CursorScope): string {
  let parsed: { v?: unknown; p?: unknown; d?: unknown; c?: unknown };
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
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
