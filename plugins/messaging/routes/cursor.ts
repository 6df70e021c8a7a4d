/** Listing cursors of streams and consumers: the last name of the previous page, signed. */
import { CursorError, decodeCursor } from "../../../core/cursor.ts";
import { messagingError } from "../errors.ts";
import { NAME_PATTERN } from "../subjects.ts";

/** The position a listing cursor carries: the last name of the previous page. */
export function cursorAfter(cursor: string | undefined, scope: string): string | undefined {
  if (cursor === undefined) return undefined;
  let position: unknown;
  try {
    position = decodeCursor(cursor, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw messagingError("messaging.cursor_invalid", {
      detail: error.message,
      field: "query.cursor",
      cause: error,
    });
  }
  if (typeof position === "string" && NAME_PATTERN.test(position)) return position;
  throw messagingError("messaging.cursor_invalid", {
    detail: "The cursor is not one this API returned",
    field: "query.cursor",
  });
}
