/**
 * What the cache routes declare alike: their OpenAPI tag and the validation hook that turns an
 * issue carrying a cache code into that error.
 */
import type { z } from "@hono/zod-openapi";
import { validationError } from "../../../core/routes.ts";
import { cacheError } from "../errors.ts";
import type { CacheIssueParams } from "../schemas.ts";

/** The OpenAPI tags of every cache route. */
export const TAGS = ["cache"];

const REQUEST_PART: Record<string, string> = {
  json: "body",
  query: "query",
  param: "path",
  header: "header",
};

/**
 * The validation hook of every cache route: an issue carrying a cache code (a bad key, a value
 * over the limit) becomes that error naming the field; anything else the core's 400.
 */
export function cacheHook(
  result: { success: boolean; target: string; error?: z.ZodError },
): undefined {
  if (result.success || !result.error) return undefined;
  const codeOf = (issue: z.core.$ZodIssue) =>
    (issue as { params?: Partial<CacheIssueParams> }).params?.cacheCode;
  const found = result.error.issues.find((issue) => codeOf(issue) !== undefined);
  if (!found) throw validationError(result.target, result.error);
  const field = [REQUEST_PART[result.target] ?? result.target, ...found.path.map(String)].join(".");
  throw cacheError(codeOf(found)!, {
    detail: `${field}: ${found.message}`,
    field,
  });
}
