/**
 * How a cache entry is laid out in Redis: ONE key per entry, `<prefix><key>`, holding a Redis
 * hash whose fields any client can read and write with plain commands (`HGETALL`, `HGET key v`,
 * `DEL`). The scripts (redis_scripts.ts) and the driver (redis.ts) both take the field names
 * from here.
 *
 * - A value: `v` its bytes; `t` its content type, absent for application/octet-stream; `e` its
 *   entity tag, written with the value (absent, e.g. on a counter, it is computed from `t` and
 *   `v` as etag.ts says); `x` the absolute expiry in epoch milliseconds, absent when none (the
 *   key carries the same instant as its PEXPIREAT, so Redis expires it).
 * - A hash: `k` = `hash` marks it; `x` as above; each user field `name` under `f:<name>`, so no
 *   user field can take a reserved name.
 * - A plain Redis string (written by another client with `SET`) reads as an
 *   application/octet-stream value with the key's PTTL.
 */
import type { Buffer } from "node:buffer";
import { DEFAULT_CONTENT_TYPE } from "./driver.ts";
import { entityTag } from "./etag.ts";

/** The reserved field names of an entry's Redis hash. */
export const FIELD = {
  /** A value's bytes. */
  value: "v",
  /** A value's content type (absent: application/octet-stream). */
  type: "t",
  /** A value's entity tag (absent: computed from `t` and `v`). */
  tag: "e",
  /** Absolute expiry, epoch milliseconds (absent: none). */
  expiry: "x",
  /** Marks a hash: `k` = `hash`. */
  marker: "k",
  /** Prefix of a hash's user fields. */
  fieldPrefix: "f:",
} as const;

/** A value decoded from an entry's fields. */
export interface DecodedValue {
  value: Buffer;
  contentType: string;
  ttlMs: number | undefined;
  etag: string;
}

/**
 * What an entry's fields (from HGETALL) hold: `undefined` for no key, `null` for a key that is
 * not a value (a hash, or a Redis hash edgebox did not write), else the value with its tag.
 */
export function decodeValue(
  fields: Record<string, Buffer>,
  now: number,
): DecodedValue | null | undefined {
  const value = fields[FIELD.value];
  if (value === undefined || fields[FIELD.marker] !== undefined) {
    for (const _ in fields) return null;
    return undefined;
  }
  const stored = fields[FIELD.type];
  const contentType = stored === undefined ? DEFAULT_CONTENT_TYPE : stored.toString();
  return {
    value,
    contentType,
    ttlMs: ttlOf(fields[FIELD.expiry], now),
    etag: fields[FIELD.tag]?.toString() ?? entityTag(value, contentType),
  };
}

/** A hash decoded from an entry's fields (HGETALL); as {@linkcode decodeValue} for the rest. */
export function decodeHash(
  fields: Record<string, string>,
  now: number,
): { fields: Record<string, string>; ttlMs: number | undefined } | null | undefined {
  if (fields[FIELD.marker] === undefined) {
    for (const _ in fields) return null;
    return undefined;
  }
  const user: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!name.startsWith(FIELD.fieldPrefix)) continue;
    // defineProperty: a field may be named `__proto__`.
    Object.defineProperty(user, name.slice(FIELD.fieldPrefix.length), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { fields: user, ttlMs: ttlOf(fields[FIELD.expiry], now) };
}

/**
 * Milliseconds left until the epoch-ms instant `expiry` (`undefined`: none). Redis has already
 * dropped an expired key, so an instant in the past (a clock running ahead of the server's)
 * still reads as 1ms left, never as none.
 */
function ttlOf(expiry: Buffer | string | undefined, now: number): number | undefined {
  if (expiry === undefined) return undefined;
  const at = Number(expiry.toString());
  if (!Number.isFinite(at)) return undefined;
  return Math.max(1, Math.ceil(at - now));
}
