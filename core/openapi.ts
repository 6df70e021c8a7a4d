/**
 * OpenAPI helpers every plugin's routes use: the shared `Problem` component (RFC 9457, as
 * `core/errors.ts` renders it) and response entries in one line each.
 */
import { z } from "@hono/zod-openapi";

/** The problem document, registered once as the `Problem` component. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string().openapi({ description: "Stable error code, such as cache.key_invalid" }),
  requestId: z.string().optional(),
  instance: z.string().optional(),
  field: z.string().optional().openapi({ description: "The request field at fault" }),
}).openapi("Problem");

/** A JSON response entry: `200: jsonResponse(Node, "The node")`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A problem+json response entry: `404: problemResponse("No such key")`. */
export function problemResponse(description: string) {
  return { description, content: { "application/problem+json": { schema: ProblemSchema } } };
}
