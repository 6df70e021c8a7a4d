/**
 * What the messaging routes declare alike: their OpenAPI tag, the subject path parameter and the
 * validation hook that turns a bad subject into `messaging.subject_invalid`.
 */
import { z } from "@hono/zod-openapi";
import { validationError } from "../../../core/routes.ts";
import { MAX_SUBJECT_LENGTH, type MessagingIssueParams, subject } from "../config.ts";
import { messagingError } from "../errors.ts";

/** The OpenAPI tags of every messaging route. */
export const TAGS = ["messaging"];

const REQUEST_PART: Record<string, string> = { json: "body", query: "query", param: "path" };

/** Validation hook: a bad subject is `messaging.subject_invalid`; anything else the core's 400. */
export function messagingHook(
  result: { success: boolean; target: string; error?: z.ZodError },
) {
  if (result.success || !result.error) return undefined;
  const codeOf = (issue: z.core.$ZodIssue) =>
    (issue as { params?: Partial<MessagingIssueParams> }).params?.messagingCode;
  const found = result.error.issues.find((issue) => codeOf(issue) !== undefined);
  if (!found) throw validationError(result.target, result.error);
  const field = [REQUEST_PART[result.target] ?? result.target, ...found.path.map(String)].join(".");
  throw messagingError(codeOf(found)!, { detail: `${field}: ${found.message}`, field });
}

/** The `{subject}` path parameter: a concrete subject to publish to, or a filter to follow. */
export function SubjectParam(use: "publish" | "filter") {
  return z.object({
    subject: subject(use).openapi({
      param: { name: "subject", in: "path" },
      example: use === "publish" ? "orders.created" : "orders.>",
      description: `Dot-separated tokens, at most ${MAX_SUBJECT_LENGTH} characters${
        use === "publish" ? "; no wildcards" : "; * matches one token, > the rest"
      }`,
    }),
  });
}
