/**
 * Entity tags of cache values (RFC 9110 section 8.8.3), derived from the content: the SHA-1 of
 * the content type, a newline and the value's bytes, in hex and quoted. A content type is
 * printable ASCII, so the newline cannot be part of it and two different (content type, value)
 * pairs never hash the same input. On Redis the driver stores the tag it computed on write in the
 * entry's `e` field (so a GET does not hash), and the scripts compute the same tag with
 * `redis.sha1hex` when it is missing (see redis_layout.ts, redis_scripts.ts); all must change
 * together.
 */
import { createHash } from "node:crypto";

/** `"*"` (any current value) or a list of entity tags, as a precondition names them. */
export type EntityTags = "*" | readonly string[];

/** The strong entity tag of `value` stored with `contentType`. */
export function entityTag(value: Uint8Array, contentType: string): string {
  // node:crypto hashes synchronously (the memory driver compares and sets in one call) and is
  // measured faster than crypto.subtle for values of every size the cache takes.
  return `"${createHash("sha1").update(contentType).update("\n").update(value).digest("hex")}"`;
}

/**
 * Whether `If-Match`'s `tags` hold for a key whose current tag is `etag` (`null`: the key
 * exists but holds no value with a tag, i.e. a hash; `undefined`: the key is absent). Strong
 * comparison: a weak tag never matches.
 */
export function ifMatchHolds(tags: EntityTags, etag: string | null | undefined): boolean {
  if (etag === undefined) return false;
  if (tags === "*") return true;
  return etag !== null && tags.includes(etag);
}
