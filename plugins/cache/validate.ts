/**
 * Checks of what callers hand a driver. Routes validate requests with zod first; drivers check
 * again because other plugins call them directly, and a bad argument must be a 4xx, never a
 * corrupt entry.
 */
import { coreError } from "../../core/errors.ts";
import { MAX_TTL_MS } from "./config.ts";
import type { CacheLimits } from "./driver.ts";
import { cacheError } from "./errors.ts";
import { checkName, nameProblem, utf8Length } from "./keys.ts";

/** Printable ASCII with a slash: `type/subtype` and parameters. */
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** Throws `cache.key_invalid` naming `field` unless `key` follows the key rules. */
export function checkKey(key: string, limits: CacheLimits, field = "key"): void {
  checkName(key, limits.maxKeyBytes, field);
}

/** Throws `cache.value_too_large` (413) when `value` is over `maxValueSize`. */
export function checkValue(size: number, limits: CacheLimits, field = "value"): void {
  if (size > limits.maxValueSize) {
    throw cacheError("cache.value_too_large", {
      detail: `${field} is ${size} bytes; the limit is ${limits.maxValueSize}`,
      field,
      extra: { limit: limits.maxValueSize },
    });
  }
}

/** Throws a 400 naming `field` unless `ttlMs` is a whole number of ms within 10 years. */
export function checkTtl(ttlMs: number | undefined, field = "ttl"): void {
  if (ttlMs === undefined) return;
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
    throw coreError("core.validation_failed", {
      detail: `${field} must be a whole number of milliseconds from 1 to ${MAX_TTL_MS}`,
      field,
    });
  }
}

/** Throws a 400 unless `contentType` is 1-255 printable ASCII characters. */
export function checkContentType(contentType: string | undefined, field = "contentType"): void {
  if (contentType === undefined || CONTENT_TYPE.test(contentType)) return;
  throw coreError("core.validation_failed", {
    detail: `${field} must be 1 to 255 printable ASCII characters`,
    field,
  });
}

/** Throws a 400 unless `by` is a safe integer. */
export function checkIncrement(by: number, field = "by"): void {
  if (!Number.isSafeInteger(by)) {
    throw coreError("core.validation_failed", {
      detail: `${field} must be an integer between -(2^53-1) and 2^53-1`,
      field,
    });
  }
}

/** Checks every field name and value of a hash patch. */
export function checkHashPatch(
  fields: Readonly<Record<string, string | null>>,
  limits: CacheLimits,
  field = "fields",
): void {
  for (const [name, value] of Object.entries(fields)) {
    checkName(name, limits.maxFieldBytes, `${field}.${name}`, "cache.field_invalid");
    if (value !== null) checkValue(utf8Length(value), limits, `${field}.${name}`);
  }
}

/** Throws a 400 unless the rate limit's arguments make sense. */
export function checkRateLimit(key: string, limit: number, windowMs: number, limits: CacheLimits) {
  // A rate-limit counter is never addressed by a path, so only the naming rules apply.
  const problem = nameProblem(key, limits.maxKeyBytes);
  if (problem !== undefined) {
    throw cacheError("cache.key_invalid", { detail: `key ${problem}`, field: "key" });
  }
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw coreError("core.validation_failed", {
      detail: "limit must be a positive integer",
      field: "limit",
    });
  }
  checkTtl(windowMs, "windowMs");
}

/** The largest page any listing may ask for (the config's `maxPageSize` cannot exceed it). */
export const MAX_PAGE_SIZE = 10_000;

/** Throws a 400 unless `limit` is a page size from 1 to {@linkcode MAX_PAGE_SIZE}. */
export function checkPageLimit(limit: number, field = "limit"): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw coreError("core.validation_failed", {
      detail: `${field} must be an integer from 1 to ${MAX_PAGE_SIZE}`,
      field,
    });
  }
}
