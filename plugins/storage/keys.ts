/**
 * The rules an object key must follow on every backend. They are strict enough that a key can
 * be a relative path under the filesystem root with no way out of it, and that no spelling of a
 * traversal (percent-encoded once or more, backslashes, overlong UTF-8) slips through as a key
 * some other layer might decode again.
 */
import type { EdgeboxError } from "../../core/errors.ts";
import { storageError } from "./errors.ts";
import { utf8Length } from "../../core/utf8.ts";

export { utf8Length };

/** Longest key segment, in bytes: a file name (255) minus the filesystem backend's suffix. */
export const MAX_SEGMENT_BYTES = 250;

// Control characters are exactly what this pattern is for.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * The two code points XML 1.0 cannot carry (surrogates are refused as invalid UTF-8): S3 lists
 * keys in XML, and MinIO sends these back as U+FFFD, so such a key could be stored but never
 * listed as itself.
 */
const NOT_XML = /[\uFFFE\uFFFF]/;
const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Whether `text` holds a C0 or C1 control character (NUL, newline, DEL...). */
export function hasControl(text: string): boolean {
  return CONTROL.test(text);
}

/** Why `key` breaks the plain rules (no decoding), or `undefined`. */
function plainProblem(key: string): string | undefined {
  if (CONTROL.test(key)) return "Keys must not contain control characters";
  if (key.includes("\\")) return "Keys must not contain backslashes";
  if (key.startsWith("/")) return "Keys must not start with /";
  for (const segment of key.split("/")) {
    if (segment === "") return "Keys must not contain empty segments (// or a trailing /)";
    if (segment === "." || segment === "..") return "Keys must not contain . or .. segments";
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) {
      return `Key segments are at most ${MAX_SEGMENT_BYTES} bytes of UTF-8`;
    }
  }
  return undefined;
}

/**
 * Decodes `%XX` runs as UTF-8 and leaves a lone `%` as it is (`100%` is a fine key);
 * `undefined` when a run is not valid UTF-8 (`%c0%ae`, an overlong dot).
 */
function percentDecode(text: string): string | undefined {
  let invalid = false;
  const decoded = text.replace(PERCENT_RUN, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    try {
      return strictUtf8.decode(bytes);
    } catch {
      invalid = true;
      return run;
    }
  });
  return invalid ? undefined : decoded;
}

/**
 * Why `key` is not a valid object key, or `undefined` when it is. A key is 1 to `maxBytes`
 * bytes of well-formed UTF-8, made of non-empty `/`-separated segments (at most
 * {@linkcode MAX_SEGMENT_BYTES} each) that are not `.` or `..`, with no backslash, no control
 * character, no U+FFFE or U+FFFF, no leading `/`, and nothing that turns into one of those
 * when percent-decoded again. Anything else (astral, combining marks, RTL, any normalisation
 * form) is stored and listed exactly as sent: no layer normalises keys.
 */
export function keyProblem(key: string, maxBytes: number): string | undefined {
  if (key.length === 0) return "Keys must not be empty";
  if (!key.isWellFormed()) return "Keys must be valid UTF-8";
  if (NOT_XML.test(key)) return "Keys must not contain U+FFFE or U+FFFF";
  const bytes = utf8Length(key);
  if (bytes > maxBytes) return `Keys are at most ${maxBytes} bytes of UTF-8 (this one is ${bytes})`;
  const plain = plainProblem(key);
  if (plain) return plain;
  // A layer that decodes once more (a proxy, a client library) must not see a traversal either.
  let current = key;
  for (let round = 0; round < 3 && current.includes("%"); round++) {
    const decoded = percentDecode(current);
    if (decoded === undefined) return "Keys must not contain percent-encoded invalid UTF-8";
    if (decoded === current) break;
    if (plainProblem(decoded)) {
      return "Keys must not contain percent-encoded separators, dot segments or control characters";
    }
    current = decoded;
  }
  return undefined;
}

/** Throws `storage.key_invalid` naming `field` unless `key` is valid. */
export function assertKey(key: string, maxBytes: number, field = "path.key"): void {
  const problem = keyProblem(key, maxBytes);
  if (problem) throw keyInvalid(key, problem, field);
}

/** The error for an invalid key. */
export function keyInvalid(key: string, problem: string, field = "path.key"): EdgeboxError {
  return storageError("storage.key_invalid", {
    detail: `${problem}: ${JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}...` : key)}`,
    field,
  });
}

/** Orders keys by their UTF-8 bytes, as S3 lists them (UTF-16 order differs above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
