/**
 * Errors the cache routes raise about a request: a missing key, a failed `If-Match`, and a
 * driver error re-pointed at the request part its argument came from.
 */
import { EdgeboxError } from "../../../core/errors.ts";
import { cacheError, quoted } from "../errors.ts";

/** 412 `cache.precondition_failed`: the key holds no value with a tag `If-Match` lists. */
export function preconditionFailed(key: string) {
  return cacheError("cache.precondition_failed", {
    detail: `Key ${quoted(key)} does not hold a value with a tag If-Match lists`,
    field: "header.if-match",
  });
}

/** 404 `cache.not_found`, naming the path's key. */
export function notFound(key: string) {
  return cacheError("cache.not_found", {
    detail: `Key ${quoted(key)} not found`,
    field: "path.key",
  });
}

/**
 * A driver error about one of its arguments, re-pointed at where that argument sits in the
 * request (`prefix` -> `query.prefix`, `cursor` -> `query.cursor`, `set.2.key` ->
 * `body.set.2.key`, `fields.x` -> `body.x`).
 */
function relocate(error: unknown, part: string): unknown {
  if (!(error instanceof EdgeboxError) || error.field === undefined) return error;
  return error.at(
    error.field === "fields" ? part : `${part}.${error.field.replace(/^fields\./, "")}`,
  );
}

/** A driver error re-pointed into the query. */
export const inQuery = (error: unknown) => relocate(error, "query");
/** A driver error re-pointed into the body. */
export const inBody = (error: unknown) => relocate(error, "body");
