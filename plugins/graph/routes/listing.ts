/**
 * The parts of a node listing the schemas cannot check alone: its `where[key]=value` filters and
 * its cursor (the last id of the previous page, bound to the label).
 */
import { z } from "@hono/zod-openapi";
import { CursorError, decodeCursor } from "../../../core/cursor.ts";
import type { EdgeboxError } from "../../../core/errors.ts";
import { validationError } from "../../../core/routes.ts";
import { graphError } from "../errors.ts";
import type { graphSchemas } from "../schemas.ts";

/** Most `where[...]` filters on one listing. */
const MAX_FILTERS = 16;

/** The `where[key]=value` filters of a listing; any other unknown parameter is a 400. */
export function filters(
  query: Record<string, unknown>,
  s: ReturnType<typeof graphSchemas>,
): Record<string, string> {
  const where: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    const field = name;
    const match = /^where\[(.*)\]$/.exec(name);
    if (!match) throw invalid(field, `Unknown query parameter "${name.slice(0, 64)}"`);
    const key = match[1]!;
    const keyCheck = s.FilterKey.safeParse(key);
    if (!keyCheck.success) throw invalid(field, keyCheck.error.issues[0]!.message);
    if (typeof value !== "string") throw invalid(field, "Give each filter once");
    const valueCheck = s.FilterValue.safeParse(value);
    if (!valueCheck.success) throw invalid(field, valueCheck.error.issues[0]!.message);
    where[key] = value;
  }
  if (Object.keys(where).length > MAX_FILTERS) {
    throw invalid(undefined, `At most ${MAX_FILTERS} where[...] filters`);
  }
  return where;
}

/** A 400 naming `query.<name>` (or the whole query), like the zod-validated parameters get. */
function invalid(name: string | undefined, message: string): Error {
  const path = name === undefined ? [] : [name];
  return validationError("query", new z.ZodError([{ code: "custom", path, message, input: name }]));
}

/** The listing a node cursor belongs to: one label (filters may change between pages). */
export function listingScope(label: string): string {
  return `graph.nodes:${label}`;
}

/** The position after the previous page, from its cursor; 400 `graph.cursor_invalid` otherwise. */
export function positionOf(
  cursor: string,
  scope: string,
  s: ReturnType<typeof graphSchemas>,
): string {
  let position: unknown;
  try {
    position = decodeCursor(cursor, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw cursorInvalid(error.message, error);
  }
  // A node id, or (on Neo4j) an integer id or elementId position after its `#i:`/`#e:` prefix.
  const valid = typeof position === "string" &&
    (s.Id.safeParse(position).success || /^#[ie]:[A-Za-z0-9:._-]{1,256}$/.test(position));
  if (!valid) {
    throw cursorInvalid("The cursor is not one this API returned");
  }
  return position as string;
}

function cursorInvalid(detail: string, cause?: unknown): EdgeboxError {
  return graphError("graph.cursor_invalid", {
    detail,
    field: "query.cursor",
    ...(cause === undefined ? {} : { cause }),
  });
}
