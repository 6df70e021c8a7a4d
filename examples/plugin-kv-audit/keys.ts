/**
 * The rules an audit key follows: 1 to `maxBytes` bytes of well-formed UTF-8, no control
 * characters, and no `.` or `..` segment (keys travel in request paths, where such a segment is
 * refused at the front, so a key no path could address is refused everywhere).
 */

/** The ASCII and Latin-1 control characters (C0, DEL, C1). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const SEPARATOR = /[/\\]/;

/** Why `key` breaks the rules, or `undefined` when it follows them (`minBytes` 0: a prefix). */
export function keyProblem(key: string, maxBytes: number, minBytes = 1): string | undefined {
  if (!key.isWellFormed()) return "must be valid UTF-8 (it holds a lone surrogate)";
  const bytes = new TextEncoder().encode(key).byteLength;
  if (bytes < minBytes) return "must not be empty";
  if (bytes > maxBytes) return `must be at most ${maxBytes} bytes of UTF-8 (got ${bytes})`;
  if (CONTROL.test(key)) return "must not contain control characters";
  if (key.split(SEPARATOR).some((segment) => segment === "." || segment === "..")) {
    return "must not hold a . or .. segment (between / or \\ separators)";
  }
  return undefined;
}
