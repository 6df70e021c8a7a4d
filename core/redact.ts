/**
 * The one redaction every output of edgebox goes through (`/ready`, `/plugins`, problem details,
 * log lines, span attributes): secrets are hidden by where they sit (a field named like a secret,
 * a URL's userinfo, a `password=` pair or query parameter, a bearer token) and, wherever they
 * turn up, by what they are: the concrete secret strings of the running config, remembered at
 * start (see {@linkcode rememberSecrets}), are scrubbed from any text as literals.
 */

/** Placeholder for a hidden value. */
export const REDACTED = "[redacted]";

/**
 * Placeholder inside a URL (userinfo, query value): plain letters keep the URL a valid one,
 * `nats://app:redacted@host:4222`.
 */
export const REDACTED_IN_URL = "redacted";

/**
 * Known secrets shorter than this are not scrubbed from free text: replacing a two-letter string
 * everywhere would mangle every output. They are still hidden where they sit in config (secret
 * fields, URL userinfo, secret query parameters).
 */
export const MIN_SECRET_LENGTH = 4;

/** At most this many literal strings are remembered (so scrubbing a text has a bounded cost). */
const MAX_KNOWN = 4_096;
/** Longer strings are not remembered as literals (a whole PEM file is found by its field). */
const MAX_SECRET_LENGTH = 16_384;
/** Objects nested deeper than this are not descended into. */
const MAX_DEPTH = 64;

/** Names whose value is a secret (after dropping `-` and `_`, case-insensitively). */
const SECRET_NAME =
  /(?:password|passwd|pwd|secret|secretaccesskey|token|credentials?|apikey|privatekey|authorization|cookies?|signature)$/i;
/** Exact names whose value is a secret (`key` of an API key, NATS' `pass`, a SAS `sig`). */
const SECRET_EXACT = new Set(["key", "pass", "sig"]);

/** True when a field or parameter of this name holds a secret (`password`, `X-Amz-Signature`). */
export function isSecretName(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    const plain = name.replace(/[-_]/g, "").toLowerCase();
    secret = SECRET_EXACT.has(plain) || SECRET_NAME.test(plain);
    // Field names come from code and config, a small set; the bound guards against the rest.
    if (secretNames.size < 10_000) secretNames.set(name, secret);
  }
  return secret;
}

/** Answers of {@linkcode isSecretName}: every log line asks again for the same few names. */
const secretNames = new Map<string, boolean>();

// --- remembered secrets ---

/** Each remembered literal and how many configs hold it. */
const known = new Map<string, number>();
let scrubber: RegExp | undefined;
let scrubberStale = false;

/**
 * Remembers every secret string of `config` (values of secret-named fields, URL passwords and
 * tokens, secret query parameters) until the returned handle is disposed, so that any output
 * carrying one of them as a literal, in raw, URL-encoded or JSON-escaped form, shows
 * `[redacted]` instead. Strings shorter than {@linkcode MIN_SECRET_LENGTH} are left out.
 */
export function rememberSecrets(config: unknown): Disposable {
  const literals = [...new Set(secretsIn(config).flatMap(spellings))]
    .filter((s) => s.length >= MIN_SECRET_LENGTH && s.length <= MAX_SECRET_LENGTH);
  const added: string[] = [];
  for (const literal of literals) {
    const count = known.get(literal);
    if (count === undefined && known.size >= MAX_KNOWN) continue;
    known.set(literal, (count ?? 0) + 1);
    added.push(literal);
  }
  if (added.length > 0) scrubberStale = true;
  let released = false;
  return {
    [Symbol.dispose]() {
      if (released) return;
      released = true;
      for (const literal of added) {
        const count = known.get(literal)!;
        if (count > 1) known.set(literal, count - 1);
        else known.delete(literal);
      }
      if (added.length > 0) scrubberStale = true;
    },
  };
}

/** The secret strings of a config, as written there (before encoding variants). */
export function secretsIn(config: unknown): string[] {
  const found: string[] = [];
  collect(config, "", found, 0);
  return found.filter((s) => s !== "");
}

function collect(value: unknown, key: string, found: string[], depth: number): void {
  if (depth > MAX_DEPTH || value === null || value === undefined) return;
  if (isSecretName(key)) {
    leaves(value, found, depth);
    return;
  }
  if (typeof value === "string") {
    hideInText(value, (secret) => found.push(secret));
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, "", found, depth + 1);
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value)) collect(v, k, found, depth + 1);
  }
}

/** Every string (and number) under a secret field. */
function leaves(value: unknown, found: string[], depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === "string") {
    found.push(value);
    const scheme = SCHEME.exec(value);
    if (scheme) found.push(scheme[1]!);
  } else if (typeof value === "number" || typeof value === "bigint") found.push(String(value));
  else if (typeof value === "object" && value !== null) {
    for (const item of Object.values(value)) leaves(item, found, depth + 1);
  }
}

/** The ways one secret may be spelled in an output: raw, decoded, URL- and JSON-encoded. */
function spellings(secret: string): string[] {
  const forms = new Set<string>();
  const add = (text: string) => {
    forms.add(text);
    forms.add(encodeURIComponent(text));
    forms.add(new URLSearchParams({ s: text }).toString().slice(2));
    forms.add(JSON.stringify(text).slice(1, -1));
    forms.add(userinfoEncoded(text));
  };
  add(secret);
  try {
    const decoded = decodeURIComponent(secret);
    if (decoded !== secret) add(decoded);
  } catch {
    // Not percent-encoded: the raw form is all there is.
  }
  return [...forms];
}

/** How the WHATWG URL parser spells `text` as a password (it encodes fewer characters). */
function userinfoEncoded(text: string): string {
  const url = new URL("http://host");
  url.password = text;
  return url.password;
}

/** Replaces every remembered secret in `text` with `[redacted]`. */
function scrubKnown(text: string): string {
  if (scrubberStale) {
    scrubberStale = false;
    const literals = [...known.keys()].sort((a, b) => b.length - a.length);
    scrubber = literals.length === 0
      ? undefined
      : new RegExp(literals.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  }
  return scrubber === undefined ? text : text.replace(scrubber, REDACTED);
}

// --- secrets by position ---

/** Anything that may hold a secret by position; most texts have none and return at once. */
const MAY_HOLD = /\/\/|=|bearer|authorization|["']\s*:/i;
/**
 * An authority after `//`, up to the path, query, fragment or whitespace. Quotes do not end it:
 * a password may hold them, and hiding too much of a quoted URL is the safe mistake.
 */
const AUTHORITY = /\/\/([^\s/?#]*)/g;
/**
 * An item of a comma-separated server list (NATS): `[userinfo@]host:port` with a port, or the
 * `scheme:` cut off before the next URL's `//`. Without ports the text is not taken for a list,
 * and everything up to its last `@` is hidden as one userinfo (a password may hold `,` and `@`).
 */
const SERVER = /^(?:[^@]*@)?(?:\[[0-9a-f:.]*\]|[\w.-]+):\d+$|^[a-z][a-z0-9+.-]*:$/i;
/** `name=value` (query parameters, connection strings, command lines); the value may be quoted. */
const PAIR = /([\w.-]+)=("[^"]*"|'[^']*'|[^&#\s;]+)/g;
/** `"name": "value"` (JSON or a JS object echoed in a message). */
const QUOTED_PAIR = /(["'])([\w.-]+)\1(\s*:\s*)(["'])((?:\\.|(?!\4)[^\\])*)\4/g;
/** An `Authorization:` header's whole value, and `Bearer <token>` anywhere. */
const AUTH_HEADER = /\b((?:proxy-)?authorization\s*:\s*)([^\r\n",}]+)/gi;
const BEARER = /\b(bearer\s+)([\w.~+/=-]+)/gi;
/** The credential of an `Authorization` value (`Bearer abc`, `Basic dXNlcg==`). */
const SCHEME = /^(?:bearer|basic|token|digest)\s+(.+)$/i;

/** Hides what sits in secret positions of `text`, reporting each secret hidden to `found`. */
function hideInText(text: string, found?: (secret: string) => void): string {
  if (!MAY_HOLD.test(text)) return text;
  let out = text;
  if (out.includes("//")) {
    out = out.replace(AUTHORITY, (match, authority: string) => {
      if (!authority.includes("@")) return match;
      return `//${hideAuthority(authority, found)}`;
    });
  }
  if (out.includes("=")) {
    out = out.replace(PAIR, (match, name: string, quoted: string) => {
      const value = /^(["']).*\1$/s.test(quoted) ? quoted.slice(1, -1) : quoted;
      if (!isSecretName(name) || value === REDACTED_IN_URL || value === "") return match;
      found?.(value);
      return `${name}=${REDACTED_IN_URL}`;
    });
  }
  out = out.replace(
    QUOTED_PAIR,
    (match, q: string, name: string, separator: string, vq: string, value: string) => {
      if (!isSecretName(name) || value === "" || value === REDACTED) return match;
      found?.(value);
      return `${q}${name}${q}${separator}${vq}${REDACTED}${vq}`;
    },
  );
  out = out.replace(AUTH_HEADER, (match, prefix: string, value: string) => {
    const credential = value.trim();
    if (credential === REDACTED) return match;
    found?.(credential);
    const scheme = SCHEME.exec(credential);
    if (scheme) found?.(scheme[1]!);
    return `${prefix}${REDACTED}`;
  });
  out = out.replace(BEARER, (match, prefix: string, token: string) => {
    if (token === REDACTED_IN_URL) return match;
    found?.(token);
    return `${prefix}${REDACTED_IN_URL}`;
  });
  return out;
}

/**
 * The authority with its userinfo hidden. A comma-separated server list (NATS) hides each
 * server's; otherwise everything up to the last `@` is userinfo (a password may hold `@` or `,`).
 */
function hideAuthority(authority: string, found?: (secret: string) => void): string {
  const items = authority.split(",");
  const isList = items.length > 1 && items.every((item) => SERVER.test(item));
  if (isList) return items.map((item) => hideAuthority(item, found)).join(",");
  const at = authority.lastIndexOf("@");
  if (at < 0) return authority;
  return `${hideUserinfo(authority.slice(0, at), found)}${authority.slice(at)}`;
}

/** `user:password` keeps the user; a lone value is a token (NATS, some Redis URLs): all hidden. */
function hideUserinfo(userinfo: string, found?: (secret: string) => void): string {
  if (userinfo === "" || userinfo === REDACTED_IN_URL) return userinfo;
  const colon = userinfo.indexOf(":");
  if (colon < 0 || userinfo.includes(",")) {
    found?.(userinfo);
    return REDACTED_IN_URL;
  }
  const password = userinfo.slice(colon + 1);
  if (password === "" || password === REDACTED_IN_URL) return userinfo;
  found?.(password);
  return `${userinfo.slice(0, colon)}:${REDACTED_IN_URL}`;
}

// --- the redaction ---

/**
 * `text` with every secret hidden: remembered secrets (see {@linkcode rememberSecrets}) wherever
 * they appear, URL userinfo (`nats://app:redacted@host`, a token-only `nats://redacted@host`,
 * every server of a comma-separated list), secret query parameters and `name=value` pairs
 * (`?X-Amz-Signature=redacted`), quoted `"password": "..."` members and bearer tokens.
 */
export function redactText(text: string): string {
  return hideInText(scrubKnown(text));
}

/**
 * `value` with secret-named fields replaced by `[redacted]` and every string passed through
 * {@linkcode redactText}: a copy of each object or array that needed a change, the value itself
 * where nothing did (never modified). An empty or absent secret is kept, so unset can be told
 * from set. Errors become `{ name, message, code }`, and values with `toJSON` (dates) their JSON,
 * as `JSON.stringify` would show them.
 */
export function redact(value: unknown, key = ""): unknown {
  return redactValue(value, key, 0);
}

function redactValue(value: unknown, key: string, depth: number): unknown {
  if (key !== "" && isSecretName(key) && value !== undefined && value !== null && value !== "") {
    return REDACTED;
  }
  if (typeof value === "string") return redactText(value);
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactText(value.message),
      ...(code === undefined ? {} : { code: redactValue(code, "", depth + 1) }),
    };
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const shown = redactValue(value[i], "", depth + 1);
      if (shown !== value[i]) (copy ??= [...value])[i] = shown;
    }
    return copy ?? value;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    return redactValue(toJSON.call(value, key), "", depth + 1);
  }
  // Copied only once something changes: most log fields hold nothing to hide.
  let copy: Record<string, unknown> | undefined;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const original = (value as Record<string, unknown>)[k];
    const shown = redactValue(original, k, depth + 1);
    if (shown !== original) (copy ??= { ...value })[k] = shown;
  }
  return copy ?? value;
}
