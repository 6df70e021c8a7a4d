/**
 * The rules every key and hash field follows (1 to N bytes of well-formed UTF-8, no control
 * characters, no `.` or `..` segment), and the names of the entries the plugin keeps for itself. User keys can never
 * start with a control character, so internal names start with NUL and cannot collide with them.
 */
import { cacheError, type CacheErrorCode } from "./errors.ts";
import { utf8Length } from "../../core/utf8.ts";

export { utf8Length };

/** The ASCII and Latin-1 control characters (C0, DEL, C1). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Marks names the plugin uses for itself (content types, rate-limit counters). */
export const INTERNAL = "\u0000";

/** The name under which a value's content type is kept, beside the value. */
export function contentTypeName(key: string): string {
  return `${INTERNAL}ct:${key}`;
}

/** The name of a rate-limit counter. */
export function rateLimitName(key: string): string {
  return `${INTERNAL}rl:${key}`;
}

/**
 * Why `name` breaks the naming rules, or `undefined` when it follows them. `minBytes` is 0 for
 * a listing prefix, which may be empty.
 */
export function nameProblem(name: string, maxBytes: number, minBytes = 1): string | undefined {
  const bytes = utf8Length(name);
  if (bytes < minBytes) return "must not be empty";
  if (bytes > maxBytes) return `must be at most ${maxBytes} bytes of UTF-8 (got ${bytes})`;
  if (CONTROL.test(name)) return "must not contain control characters";
  if (!name.isWellFormed()) return "must be valid UTF-8 (it holds a lone surrogate)";
  return undefined;
}

/** A `/` or `\` (a request path treats both as segment separators). */
const SEPARATOR = /[/\\]/;

/**
 * Why `name` cannot be a key or hash field, or `undefined` when it can: the naming rules, and no
 * `.` or `..` segment between `/` or `\` separators. Keys and fields travel in request paths
 * (`/keys/{key}`, `/fields/{field}`), where a dot segment is refused in every spelling at the
 * front; a name that no path can address is refused everywhere, not stored by a batch or another
 * plugin and then left unreachable.
 */
export function keyProblem(name: string, maxBytes: number): string | undefined {
  const problem = nameProblem(name, maxBytes);
  if (problem !== undefined) return problem;
  if (name.includes(".")) {
    for (const segment of name.split(SEPARATOR)) {
      if (segment === "." || segment === "..") {
        return "must not hold a . or .. segment (between / or \\ separators)";
      }
    }
  }
  return undefined;
}

/** Throws `cache.key_invalid` (or `code`) naming `field` when `name` breaks the key rules. */
export function checkName(
  name: string,
  maxBytes: number,
  field = "key",
  code: CacheErrorCode = "cache.key_invalid",
): void {
  const problem = keyProblem(name, maxBytes);
  if (problem !== undefined) {
    throw cacheError(code, { detail: `${field} ${problem}`, field });
  }
}
