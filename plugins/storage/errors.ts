/**
 * The storage plugin's error table: every failure a storage route or driver reports, with its
 * HTTP status. Codes are `storage.<reason>`; clients match on them, never on messages.
 */
import { defineErrors, type EdgeboxError, type Errors, type ErrorSpec } from "../../core/errors.ts";

/** Every error the storage plugin raises. */
export const storageErrors = {
  "storage.key_invalid": { status: 400, title: "Object key is invalid" },
  "storage.metadata_invalid": { status: 400, title: "Object metadata is invalid" },
  "storage.checksum_mismatch": { status: 400, title: "Body does not match its checksum" },
  "storage.body_incomplete": { status: 400, title: "Request body ended before it was complete" },
  "storage.cursor_invalid": { status: 400, title: "Listing cursor is invalid" },
  "storage.condition_invalid": {
    status: 400,
    title: "Conditional header is malformed or cannot be honoured",
  },
  "storage.signature_invalid": { status: 403, title: "Signed URL is invalid" },
  "storage.signature_expired": { status: 403, title: "Signed URL has expired" },
  "storage.not_found": { status: 404, title: "Object not found" },
  "storage.precondition_failed": { status: 412, title: "Precondition failed" },
  "storage.too_large": { status: 413, title: "Object too large" },
  "storage.range_not_satisfiable": { status: 416, title: "Range not satisfiable" },
  "storage.unsupported": { status: 501, title: "Not supported by this backend" },
  "storage.backend_error": { status: 502, title: "Storage backend failed" },
  "storage.unavailable": { status: 503, title: "Storage backend unavailable" },
  "storage.bucket_missing": { status: 503, title: "Bucket does not exist" },
  "storage.insufficient_space": { status: 507, title: "No space left on the storage backend" },
} as const satisfies Record<string, ErrorSpec>;

/** A code of the storage error table. */
export type StorageErrorCode = keyof typeof storageErrors;

/**
 * Creates an error from the storage table; `storageError.unavailable(detail, cause)` is the 503
 * with `Retry-After` for a backend that cannot be reached or timed out.
 */
export const storageError: Errors<StorageErrorCode> = defineErrors(storageErrors);

/** A range that starts past the end: 416 with `Content-Range: bytes *\/size` as HTTP asks. */
export function rangeNotSatisfiable(key: string, size: number): EdgeboxError {
  return storageError("storage.range_not_satisfiable", {
    detail: `The requested range is outside object "${key}" (${size} bytes)`,
    field: "header.range",
    headers: { "Content-Range": `bytes */${size}` },
    extra: { size },
  });
}

/** No object under `key`. */
export function notFound(key: string): EdgeboxError {
  return storageError("storage.not_found", { detail: `No object "${key}"`, extra: { key } });
}

/** The body grew past the object size limit. */
export function tooLarge(limit: number): EdgeboxError {
  return storageError("storage.too_large", {
    detail: `The object exceeds the limit of ${limit} bytes`,
    field: "body",
    extra: { limit },
  });
}
