/**
 * Conditional requests (RFC 9110 section 13): parsing `If-Match`, `If-None-Match`,
 * `If-Modified-Since`, `If-Unmodified-Since` and `If-Range`, and evaluating them, in the order of
 * section 13.2.2, against an object's current validators (or its absence). Pure functions: the
 * drivers call {@linkcode evaluatePreconditions} on the state they are about to act on, so the
 * check and the action refer to the same version of the object.
 */
import type { EdgeboxError } from "../../core/errors.ts";
import { storageError } from "./errors.ts";

/** Entity tags of an `If-Match` or `If-None-Match` list, or `*` (any current object). */
export type TagList = readonly string[] | "*";

/** The condition of an `If-Range`: an entity tag or a date. */
export type IfRange = { etag: string } | { date: Date };

/** The conditional headers of one request, parsed. */
export interface Preconditions {
  ifMatch?: TagList;
  ifNoneMatch?: TagList;
  ifModifiedSince?: Date;
  ifUnmodifiedSince?: Date;
  /** Only on a GET that has a `Range`: send the range only while this still holds. */
  ifRange?: IfRange;
}

/** What a condition is evaluated against. */
export interface Validators {
  etag: string;
  lastModified: Date;
}

/** The conditional headers, by the name problem details use for them. */
export type ConditionHeader =
  | "header.if-match"
  | "header.if-none-match"
  | "header.if-modified-since"
  | "header.if-unmodified-since"
  | "header.if-range";

/** The outcome of evaluating preconditions (section 13.2.2). */
export type Evaluation =
  | { kind: "proceed" }
  | { kind: "not_modified" }
  | { kind: "failed"; field: ConditionHeader };

/** Reads act on the object; writes (PUT, DELETE, copy destination) replace or remove it. */
export type ConditionalMethod = "GET" | "HEAD" | "PUT" | "DELETE" | "COPY";

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (section 8.8.3).
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
const MONTH = `(${MONTHS.join("|")})`;
const IMF_FIXDATE = new RegExp(`^(${DAYS.join("|")}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(
  `^(${LONG_DAYS.join("|")}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME_DATE = new RegExp(`^(${DAYS.join("|")}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

function invalid(field: ConditionHeader, detail: string): EdgeboxError {
  return storageError("storage.condition_invalid", { detail: `${field}: ${detail}`, field });
}

/** Whether `tag` is a weak entity tag (`W/"x"`). */
function isWeak(tag: string): boolean {
  return tag.startsWith("W/");
}

/** The opaque part of an entity tag (`W/"x"` and `"x"` both give `"x"`). */
function opaque(tag: string): string {
  return isWeak(tag) ? tag.slice(2) : tag;
}

/** Strong comparison (section 8.8.3.2): neither tag weak, and the same opaque tags. */
export function strongMatch(a: string, b: string): boolean {
  return !isWeak(a) && !isWeak(b) && a === b;
}

/** Weak comparison (section 8.8.3.2): the same opaque tags, weak or not. */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b);
}

/**
 * The entity tags of an `If-Match` or `If-None-Match` value: `*`, or a comma list of tags
 * (empty list elements are allowed, as section 5.6.1 says). `undefined` when the header is
 * absent; `storage.condition_invalid` naming `field` when it is not that grammar, since a
 * condition edgebox cannot read is one it cannot honour.
 */
export function parseTagList(
  header: string | null | undefined,
  field: ConditionHeader,
): TagList | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "*") return "*";
  const tags: string[] = [];
  // Split on commas outside quotes: etagc excludes `"`, so quotes pair up left to right.
  let rest = value;
  while (rest.length > 0) {
    const match = /^[ \t]*((?:W\/)?"[^"]*")?[ \t]*(?:,|$)/.exec(rest);
    if (!match || match[0].length === 0) {
      throw invalid(field, 'Expected "*" or a comma-separated list of entity tags such as "abc"');
    }
    const tag = match[1];
    if (tag !== undefined) {
      if (!ENTITY_TAG.test(tag)) throw invalid(field, `Entity tag ${tag} has invalid characters`);
      tags.push(tag);
    }
    rest = rest.slice(match[0].length);
  }
  if (tags.length === 0) throw invalid(field, 'Expected "*" or at least one entity tag');
  return tags;
}

/**
 * An HTTP-date (section 5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms), or
 * `undefined` when it is not one. Parsed by hand: `Date.parse` reads other text too, and reads
 * the asctime form in local time.
 */
export function parseHttpDate(text: string): Date | undefined {
  let day: number, month: number, year: number, rest: string[];
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    [day, month, year, rest] = [+match[2]!, MONTHS.indexOf(match[3]!), +match[4]!, match.slice(5)];
  } else if ((match = RFC850_DATE.exec(text))) {
    day = +match[2]!;
    month = MONTHS.indexOf(match[3]!);
    // Section 5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const now = new Date().getUTCFullYear();
    year = 2000 + +match[4]!;
    if (year > now + 50) year -= 100;
    rest = match.slice(5);
  } else if ((match = ASCTIME_DATE.exec(text))) {
    [day, month, year] = [+match[3]!.trim(), MONTHS.indexOf(match[2]!), +match[7]!];
    rest = match.slice(4, 7);
  } else {
    return undefined;
  }
  const [hours, minutes, seconds] = rest.map(Number) as [number, number, number];
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const time = Date.UTC(year, month, day, hours, minutes, Math.min(seconds, 59));
  const date = new Date(time);
  // Refuse dates that roll over (31 Feb).
  return date.getUTCDate() === day ? date : undefined;
}

function dateHeader(header: string | null, field: ConditionHeader): Date | undefined {
  if (header === null) return undefined;
  const date = parseHttpDate(header.trim());
  if (!date) {
    throw invalid(field, 'Expected an HTTP date such as "Sun, 06 Nov 1994 08:49:37 GMT"');
  }
  return date;
}

/**
 * The conditional headers of a request to `method`, parsed and checked. Throws
 * `storage.condition_invalid` (400) naming the header when one is malformed, or is one that
 * edgebox cannot honour on that method (`If-Modified-Since` and `If-Range` on a write), rather
 * than ignore it.
 */
export function parsePreconditions(headers: Headers, method: ConditionalMethod): Preconditions {
  const read = method === "GET" || method === "HEAD";
  const conditions: Preconditions = {};
  const ifMatch = parseTagList(headers.get("if-match"), "header.if-match");
  if (ifMatch !== undefined) conditions.ifMatch = ifMatch;
  const ifNoneMatch = parseTagList(headers.get("if-none-match"), "header.if-none-match");
  if (ifNoneMatch !== undefined) conditions.ifNoneMatch = ifNoneMatch;
  const unmodified = dateHeader(headers.get("if-unmodified-since"), "header.if-unmodified-since");
  if (unmodified) conditions.ifUnmodifiedSince = unmodified;
  const modified = dateHeader(headers.get("if-modified-since"), "header.if-modified-since");
  if (modified) {
    if (!read) {
      throw invalid(
        "header.if-modified-since",
        "If-Modified-Since applies to GET and HEAD only; use If-Unmodified-Since or If-Match on a write",
      );
    }
    conditions.ifModifiedSince = modified;
  }
  const ifRange = headers.get("if-range");
  if (ifRange !== null) {
    if (!read) throw invalid("header.if-range", "If-Range applies to GET only");
    const value = ifRange.trim();
    if (value.startsWith('"') || value.startsWith("W/")) {
      if (!ENTITY_TAG.test(value)) throw invalid("header.if-range", "Malformed entity tag");
      // Section 13.1.5: a client must not send a weak tag here, and a server cannot honour one.
      if (isWeak(value)) throw invalid("header.if-range", "If-Range needs a strong entity tag");
      // Without a Range there is nothing to condition (section 13.1.5: ignore it).
      if (headers.has("range")) conditions.ifRange = { etag: value };
    } else {
      const date = dateHeader(value, "header.if-range");
      if (date && headers.has("range")) conditions.ifRange = { date };
    }
  }
  return conditions;
}

/** Whether any precondition is set. */
export function hasPreconditions(conditions: Preconditions | undefined): boolean {
  return conditions !== undefined && Object.keys(conditions).length > 0;
}

/** HTTP dates have one-second resolution. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Evaluates `conditions` against the object's current validators (`undefined`: there is no
 * object) in the order of RFC 9110 section 13.2.2. `not_modified` only comes from reads; a
 * failed write condition, or a failed `If-Match` / `If-Unmodified-Since` on a read, is `failed`
 * naming the header (HTTP 412). `If-Range` is not decided here: see {@linkcode rangeApplies}.
 */
export function evaluatePreconditions(
  current: Validators | undefined,
  conditions: Preconditions,
  method: ConditionalMethod,
): Evaluation {
  const read = method === "GET" || method === "HEAD";
  const { ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince } = conditions;
  // Step 1: If-Match, strong comparison; false when there is no current object.
  if (ifMatch !== undefined) {
    const holds = current !== undefined &&
      (ifMatch === "*" || ifMatch.some((tag) => strongMatch(tag, current.etag)));
    if (!holds) return { kind: "failed", field: "header.if-match" };
  } else if (ifUnmodifiedSince !== undefined && current !== undefined) {
    // Step 2: ignored without a modification date, i.e. when there is no object.
    if (seconds(current.lastModified) > seconds(ifUnmodifiedSince)) {
      return { kind: "failed", field: "header.if-unmodified-since" };
    }
  }
  // Step 3: If-None-Match, weak comparison; true when there is no current object.
  if (ifNoneMatch !== undefined) {
    const matches = current !== undefined &&
      (ifNoneMatch === "*" || ifNoneMatch.some((tag) => weakMatch(tag, current.etag)));
    if (matches) {
      return read ? { kind: "not_modified" } : { kind: "failed", field: "header.if-none-match" };
    }
  } else if (read && ifModifiedSince !== undefined && current !== undefined) {
    // Step 4: GET and HEAD only.
    if (seconds(current.lastModified) <= seconds(ifModifiedSince)) return { kind: "not_modified" };
  }
  return { kind: "proceed" };
}

/**
 * Step 5 of section 13.2.2: whether a `Range` is served given `If-Range` (true when there is
 * no `If-Range`). A strong tag must match strongly; a date must equal Last-Modified exactly.
 */
export function rangeApplies(current: Validators, ifRange: IfRange | undefined): boolean {
  if (ifRange === undefined) return true;
  if ("etag" in ifRange) return strongMatch(ifRange.etag, current.etag);
  return seconds(ifRange.date) === seconds(current.lastModified);
}

/** The error for a failed precondition (412), naming the header that failed. */
export function preconditionFailed(key: string, field: ConditionHeader): EdgeboxError {
  const header = field.slice("header.".length);
  return storageError("storage.precondition_failed", {
    detail: `The ${header} condition does not hold for object "${key}"`,
    field,
    extra: { key },
  });
}

/** Throws {@linkcode preconditionFailed} unless a write may go ahead on `current`. */
export function assertWritable(
  key: string,
  current: Validators | undefined,
  conditions: Preconditions | undefined,
  method: "PUT" | "DELETE" | "COPY",
): void {
  if (!conditions) return;
  const outcome = evaluatePreconditions(current, conditions, method);
  if (outcome.kind === "failed") throw preconditionFailed(key, outcome.field);
}
