/**
 * JSON request bodies are read strictly, so a value is never changed on its way in: invalid
 * UTF-8 and lone surrogates (which `JSON.parse` would turn into U+FFFD or keep as broken text),
 * integers beyond +-(2^53-1) and numbers beyond the double range (which would be rounded or become
 * `Infinity`), and the prototype keys `__proto__`, `constructor` and `prototype` (which object
 * spreads and schema validation drop without a word) are refused with 400 naming the field. So is
 * nesting deeper than the configured depth.
 */
import { coreError, type EdgeboxError } from "./errors.ts";

/** Limits of {@linkcode parseStrictJson}. */
export interface StrictJsonOptions {
  /** Deepest nesting of arrays and objects accepted (the top-level value is depth 1). */
  maxDepth: number;
}

/** Keys that reach an object's prototype machinery instead of its data. */
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Marks a number `JSON.parse` could not carry exactly; found with its path by the walk. */
const INEXACT = Symbol("inexact number");

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes a body as UTF-8, refusing invalid sequences with 400 (`core.json_invalid` for a JSON
 * body, `core.bad_request` for other text) rather than replacing them with U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array, options: { json: boolean }): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const detail = "The body is not valid UTF-8";
    throw options.json
      ? invalid("body", detail)
      : coreError("core.bad_request", { detail, field: "body" });
  }
}

/** Parses and checks a JSON text; throws `core.json_invalid` naming the first offending field. */
export function parseStrictJson(text: string, options: StrictJsonOptions): unknown {
  // Only a long digit run or a 3-digit exponent can hold a number JSON.parse would change: the
  // reviver (and its source text) is paid for only then.
  const numeric = /\d{16}|[eE][+-]?\d{3}/.test(text);
  let value: unknown;
  try {
    value = numeric ? JSON.parse(text, markInexact) : JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep("body", options.maxDepth);
    throw invalid("body", `The body is not valid JSON: ${(error as Error).message}`);
  }
  checkValue(value, "body", 1, options.maxDepth);
  return value;
}

/** Reviver: an integer literal outside the safe range, or a number that overflowed, is marked. */
function markInexact(this: unknown, _key: string, value: unknown, context?: { source?: string }) {
  if (typeof value !== "number") return value;
  if (!Number.isFinite(value)) return INEXACT;
  if (!Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
    return INEXACT;
  }
  return value;
}

function checkValue(value: unknown, path: string, depth: number, maxDepth: number): void {
  if (value === INEXACT) {
    throw invalid(
      path,
      `${path}: number cannot be represented exactly (integers must lie within +-(2^53-1)); send it as a string`,
    );
  }
  if (typeof value === "string") {
    if (!value.isWellFormed()) throw invalid(path, `${path}: string contains a lone surrogate`);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (depth > maxDepth) throw tooDeep(path, maxDepth);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      checkValue(value[i], `${path}.${i}`, depth + 1, maxDepth);
    }
    return;
  }
  for (const key of Object.keys(value)) {
    const field = `${path}.${key}`;
    if (PROTOTYPE_KEYS.has(key)) {
      throw invalid(field, `${field}: the key "${key}" is not accepted (prototype pollution)`);
    }
    if (!key.isWellFormed()) throw invalid(path, `${path}: a key contains a lone surrogate`);
    checkValue((value as Record<string, unknown>)[key], field, depth + 1, maxDepth);
  }
}

function tooDeep(field: string, maxDepth: number): EdgeboxError {
  return invalid(field, `${field}: JSON nests deeper than ${maxDepth} levels`, { maxDepth });
}

function invalid(field: string, detail: string, extra?: Record<string, unknown>): EdgeboxError {
  return coreError("core.json_invalid", { detail, field, ...(extra ? { extra } : {}) });
}
