/**
 * Conditional requests (RFC 9110 section 13) on audited values. Values have entity tags but no
 * dates, so `If-Modified-Since`, `If-Unmodified-Since` and `If-Range` are refused on every route,
 * and each route names the tag conditions it honours: a condition edgebox cannot honour is a 400
 * naming the header, never ignored (ignoring it could let through a write the client forbade).
 */
import { coreError, type EdgeboxError } from "../../mod.ts";
import type { EntityTags } from "./driver.ts";

/** Most entity tags one header may list. */
const MAX_ENTITY_TAGS = 64;
const DATE_CONDITIONS = ["if-modified-since", "if-unmodified-since", "if-range"] as const;
/**
 * One element of a tag list: optional whitespace, `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`
 * (an etagc may be a comma), optional whitespace, then a comma or the end.
 */
const LIST_ELEMENT = /[ \t]*((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")?[ \t]*(?:,|$)/y;

/** The tag conditions of one request. */
export interface Conditions {
  ifMatch?: EntityTags;
  ifNoneMatch?: EntityTags;
}

/** Which tag conditions a route honours (`"star"`: only `If-None-Match: *`). */
export interface Honoured {
  ifMatch?: boolean;
  ifNoneMatch?: "star" | "tags";
}

function refused(header: string, why: string): EdgeboxError {
  return coreError("core.validation_failed", {
    detail: `header.${header}: ${why}`,
    field: `header.${header}`,
  });
}

/** `"*"` or the comma-separated entity tags of a header; a 400 naming it when malformed. */
function parseTags(header: string, value: string): EntityTags {
  if (value.trim() === "*") return "*";
  const malformed = () =>
    refused(header, 'expected "*" or a comma-separated list of quoted entity tags');
  const tags: string[] = [];
  LIST_ELEMENT.lastIndex = 0;
  while (LIST_ELEMENT.lastIndex < value.length) {
    const at = LIST_ELEMENT.lastIndex;
    const match = LIST_ELEMENT.exec(value);
    if (match === null || LIST_ELEMENT.lastIndex === at) throw malformed();
    // Empty list elements are allowed (RFC 9110 section 5.6.1).
    if (match[1] !== undefined) tags.push(match[1]);
    if (tags.length > MAX_ENTITY_TAGS) {
      throw refused(header, `lists more than ${MAX_ENTITY_TAGS} entity tags`);
    }
  }
  if (tags.length === 0) throw malformed();
  return tags;
}

/** The conditions of a request to a route that honours `honoured`; refuses every other one. */
export function conditionsOf(headers: Headers, honoured: Honoured): Conditions {
  for (const header of DATE_CONDITIONS) {
    if (headers.has(header)) {
      throw refused(header, "audited values have no dates; use If-Match or If-None-Match");
    }
  }
  const conditions: Conditions = {};
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    if (!honoured.ifMatch) throw refused("if-match", "this route cannot honour the condition");
    conditions.ifMatch = parseTags("if-match", ifMatch);
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    if (!honoured.ifNoneMatch) {
      throw refused("if-none-match", "this route cannot honour the condition");
    }
    const tags = parseTags("if-none-match", ifNoneMatch);
    if (honoured.ifNoneMatch === "star" && tags !== "*") {
      throw refused(
        "if-none-match",
        'only "If-None-Match: *" (create, never replace) applies here',
      );
    }
    conditions.ifNoneMatch = tags;
  }
  return conditions;
}

/** Whether `tags` match `etag` by strong comparison (`If-Match`): a weak tag never matches. */
export function strongMatch(tags: EntityTags, etag: string): boolean {
  return tags === "*" || tags.includes(etag);
}

/** Whether `tags` match `etag` by weak comparison (`If-None-Match`): `W/"x"` matches `"x"`. */
export function weakMatch(tags: EntityTags, etag: string): boolean {
  const opaque = (tag: string) => tag.startsWith("W/") ? tag.slice(2) : tag;
  return tags === "*" || tags.some((tag) => opaque(tag) === opaque(etag));
}
