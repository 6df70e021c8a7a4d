/** The cache plugin's error table: every failure it reports, with a stable `cache.*` code. */
import { defineErrors, type Errors } from "../../core/errors.ts";

/** Codes the cache plugin answers with. */
export const cacheErrors = {
  "cache.key_invalid": { status: 400, title: "Invalid key" },
  "cache.field_invalid": { status: 400, title: "Invalid hash field" },
  "cache.cursor_invalid": { status: 400, title: "Invalid cursor" },
  "cache.not_found": { status: 404, title: "Key not found" },
  "cache.field_not_found": { status: 404, title: "Hash field not found" },
  "cache.wrong_type": { status: 409, title: "Key holds another kind of value" },
  "cache.not_integer": { status: 409, title: "Value is not an integer" },
  "cache.hash_full": { status: 409, title: "Hash has too many fields" },
  "cache.key_exists": { status: 412, title: "Key already exists" },
  "cache.precondition_failed": { status: 412, title: "Precondition failed" },
  "cache.value_too_large": { status: 413, title: "Value too large" },
  "cache.full": { status: 507, title: "Cache is out of memory" },
  "cache.backend_error": { status: 502, title: "Cache backend error" },
  "cache.unavailable": { status: 503, title: "Cache backend unavailable" },
} as const;

/** A code from the cache table. */
export type CacheErrorCode = keyof typeof cacheErrors;

/**
 * Creates an error from the cache table; `cacheError.unavailable(detail, cause)` is the 503 with
 * `Retry-After` for a backend that cannot answer right now.
 */
export const cacheError: Errors<CacheErrorCode> = defineErrors(cacheErrors);

/** Quotes a key for an error message, cut short so a 512-byte key does not flood logs. */
export function quoted(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 77)}...` : key);
}
