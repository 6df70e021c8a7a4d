/**
 * Conditional requests on cache values (RFC 9110 section 13): parsing `If-Match` and
 * `If-None-Match` strictly, comparing tags, and refusing every precondition a route cannot
 * honour. A condition that would be ignored could let a write go through that the client meant
 * to forbid, so a malformed or unsupported one is a 400 naming the header, never skipped.
 */
import { coreError, type EdgeboxError } from "../../core/errors.ts";
import type { EntityTags } from "./etag.ts";

/** Most entity tags one header may list (they are sent on to the backend). */
export const MAX_ENTITY_TAGS = 64;

/**
 * The conditional headers of RFC 9110 section 13.1, lower case as `Headers` gives them. Cache
 * values have entity tags but no dates: the routes refuse the last three outright.
 */
export const CONDITIONAL_HEADERS = [
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
] as const;

/** One of {@linkcode CONDITIONAL_HEADERS}. */
export type ConditionalHeader = typeof CONDITIONAL_HEADERS[number];

/** The conditions of one request on a value. */
export interface Conditions {
  ifMatch?: EntityTags;
  ifNoneMatch?: EntityTags;
}

/** `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`, `etagc = %x21 / %x23-7E / obs-text`. */
const ENTITY_TAG = /(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/y;
const OWS = /[ \t]*/y;

/** A 400 naming `header.<name>`. */
export function badCondition(name: ConditionalHeader, why: string): EdgeboxError {
  return coreError("core.validation_failed", {
    detail: `header.${name}: ${why}`,
    field: `header.${name}`,
  });
}

/**
 * The tags of an `If-Match` or `If-None-Match` value: `"*"` or a comma list of entity tags
 * (empty list elements allowed, as RFC 9110 section 5.6.1 asks). Throws a 400 naming the header
 * when it is neither, lists no tag, or lists more than {@linkcode MAX_ENTITY_TAGS}.
 */
export function parseEntityTags(name: ConditionalHeader, value: string): EntityTags {
  const text = value.trim();
  if (text === "*") return "*";
  const malformed = () =>
    badCondition(name, 'expected "*" or a comma-separated list of quoted entity tags');
  const tags: string[] = [];
  let at = 0;
  while (at < text.length) {
    if (text[at] === ",") {
      at = skipSpace(text, at + 1);
      continue;
    }
    ENTITY_TAG.lastIndex = at;
    const match = ENTITY_TAG.exec(text);
    if (!match) throw malformed();
    tags.push(match[0]);
    if (tags.length > MAX_ENTITY_TAGS) {
      throw badCondition(name, `lists more than ${MAX_ENTITY_TAGS} entity tags`);
    }
    at = skipSpace(text, ENTITY_TAG.lastIndex);
    if (at < text.length && text[at] !== ",") throw malformed();
  }
  if (tags.length === 0) throw malformed();
  return tags;
}

function skipSpace(text: string, at: number): number {
  OWS.lastIndex = at;
  OWS.exec(text);
  return OWS.lastIndex;
}

/**
 * Whether `If-None-Match` matches a value tagged `etag`: any current value for `"*"`, else weak
 * comparison (`W/"x"` matches `"x"`), as RFC 9110 section 13.1.2 says.
 */
export function ifNoneMatchMatches(tags: EntityTags, etag: string): boolean {
  if (tags === "*") return true;
  const own = opaque(etag);
  return tags.some((tag) => opaque(tag) === own);
}

function opaque(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** Which conditions a route honours; any other conditional header is refused. */
export interface Honoured {
  ifMatch?: boolean;
  /** `"star"`: only `If-None-Match: *`; `"tags"`: `*` or a list. */
  ifNoneMatch?: "star" | "tags";
}

/** The two conditions a route may honour (the routes' guard refuses the others everywhere). */
const TAG_CONDITIONS = ["if-match", "if-none-match"] as const;

/**
 * The `If-Match` and `If-None-Match` of a request to a route that honours `honoured`: each
 * present header parsed, and a 400 naming the first one the route cannot honour. The date
 * conditions are left to the routes' guard, which refuses them before any route runs.
 */
export function conditionsOf(headers: Headers, honoured: Honoured): Conditions {
  const conditions: Conditions = {};
  for (const name of TAG_CONDITIONS) {
    const value = headers.get(name);
    if (value === null) continue;
    if (name === "if-match" && honoured.ifMatch) {
      conditions.ifMatch = parseEntityTags(name, value);
    } else if (name === "if-none-match" && honoured.ifNoneMatch) {
      const tags = parseEntityTags(name, value);
      if (honoured.ifNoneMatch === "star" && tags !== "*") {
        throw badCondition(name, 'only "If-None-Match: *" (create, never replace) applies here');
      }
      conditions.ifNoneMatch = tags;
    } else {
      throw badCondition(name, "this route cannot honour the condition");
    }
  }
  return conditions;
}
