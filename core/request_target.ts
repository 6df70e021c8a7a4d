/**
 * What a request addresses, decided once at the front: the method edgebox serves it under and
 * the one decoded path that auth scopes, the body limit, the availability gate, routing, metrics
 * and logs all use. Nothing downstream re-parses the URL: a rebuilt `Request` would resolve dot
 * segments (`/v1/echo/../cache/...` becomes `/v1/cache/...`) after auth had judged the raw path.
 *
 * So a path that a URL parser would rewrite is refused here rather than normalised: dot segments
 * in any spelling (`.`, `..`, `%2e`, `%2E`, also between encoded separators), backslashes (a URL
 * parser turns them into `/`), control characters, and percent-escapes that are malformed or do
 * not decode to UTF-8.
 */
import { coreError, type EdgeboxError } from "./errors.ts";

/** The methods edgebox routes. Any other, including lowercase spellings, is 501. */
export const SERVED_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

/** Longest request path accepted, in characters of its raw (encoded) form. */
export const MAX_PATH_LENGTH = 8_192;

/** The 501 for a method edgebox does not serve on any resource (RFC 9110 section 15.6.2). */
export function unservedMethod(method: string): EdgeboxError | undefined {
  if (SERVED_METHODS.has(method)) return undefined;
  return coreError("core.method_not_implemented", {
    detail: `Method "${method.slice(0, 32)}" is not implemented; edgebox serves ${
      [...SERVED_METHODS].join(", ")
    }`,
    field: "method",
    headers: { Allow: [...SERVED_METHODS].join(", ") },
  });
}

/** A segment separator inside a raw path: `/`, or an encoded `/` or `\`. */
const SEPARATOR = /\/|%2f|%5c/i;
/** An encoded dot. */
const ENCODED_DOT = /%2e/gi;
/** Characters a URL parser would drop or rewrite, and controls that have no place in a path. */
// deno-lint-ignore no-control-regex
const REWRITTEN = /[\\\u0000-\u001f\u007f]/;
const MALFORMED_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * The decoded path of a request URL (`http://host/v1/cache/keys/a%20b?x` -> `/v1/cache/keys/a b`),
 * decoded as Hono decodes it (`decodeURI`: reserved escapes such as `%2F` and `%25` stay encoded,
 * so a parameter decodes exactly once). Throws a 400 problem for a path it refuses.
 */
export function requestPath(url: string): string {
  const raw = rawPath(url);
  if (raw.length > MAX_PATH_LENGTH) {
    throw invalid(`The request path is longer than ${MAX_PATH_LENGTH} characters`);
  }
  if (REWRITTEN.test(raw)) {
    throw invalid("The request path contains a backslash or a control character");
  }
  if (raw.includes(".") || raw.includes("%")) {
    for (const segment of raw.split(SEPARATOR)) {
      const dots = segment.replace(ENCODED_DOT, ".");
      if (dots === "." || dots === "..") {
        throw invalid("The request path contains a dot segment (. or ..) in some spelling");
      }
    }
  }
  if (!raw.includes("%")) return raw;
  if (MALFORMED_ESCAPE.test(raw)) throw invalid("The request path has a malformed %-escape");
  try {
    // `%25` is kept encoded (as Hono does) so that `%252F` decodes to `%2F`, not to `/`.
    return decodeURI(raw.includes("%25") ? raw.replace(/%25/g, "%2525") : raw);
  } catch {
    throw invalid("The request path's %-escapes do not decode to UTF-8");
  }
}

/** The raw path of a URL as Deno hands it over: from the first `/` after the authority. */
function rawPath(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return "/";
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 63 /* ? */ || code === 35 /* # */) {
      end = i;
      break;
    }
  }
  return url.slice(start, end);
}

function invalid(detail: string): EdgeboxError {
  return coreError("core.path_invalid", { detail, field: "path" });
}
