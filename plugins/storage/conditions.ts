/**
 * Conditional reads (RFC 9110 section 13): whether `If-None-Match` / `If-Modified-Since` make a
 * GET or HEAD answer 304. `If-None-Match` wins when both are sent, as the RFC says.
 */

/** The conditions of a read. */
export interface ReadConditions {
  /** Entity tags from `If-None-Match`, or `*` (any current object). */
  ifNoneMatch?: readonly string[] | "*";
  /** From `If-Modified-Since`. */
  ifModifiedSince?: Date;
}

/** What a condition is evaluated against. */
export interface Validators {
  etag: string;
  lastModified: Date;
}

/** The opaque part of an entity tag, for weak comparison (`W/"x"` matches `"x"`). */
function opaque(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** The entity tags of an `If-None-Match` header (`*` or a comma list); `undefined` if absent. */
export function parseIfNoneMatch(header: string | null | undefined): ReadConditions["ifNoneMatch"] {
  if (header === null || header === undefined || header.trim() === "") return undefined;
  if (header.trim() === "*") return "*";
  const tags = header.match(/(?:W\/)?"[^"]*"/g);
  return tags ?? [];
}

/** An `If-Modified-Since` date; `undefined` when absent or not a date (then it is ignored). */
export function parseHttpDate(header: string | null | undefined): Date | undefined {
  if (!header) return undefined;
  const time = Date.parse(header);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** True when the conditions say the client's copy is current (answer 304). */
export function isNotModified(current: Validators, conditions: ReadConditions): boolean {
  const { ifNoneMatch, ifModifiedSince } = conditions;
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch === "*") return true;
    const own = opaque(current.etag);
    return ifNoneMatch.some((tag) => opaque(tag) === own);
  }
  if (ifModifiedSince !== undefined) {
    // HTTP dates have one-second resolution.
    return Math.floor(current.lastModified.getTime() / 1000) <=
      Math.floor(ifModifiedSince.getTime() / 1000);
  }
  return false;
}
