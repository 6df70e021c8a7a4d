/**
 * `POST /admin/reload`: reloads the config file edgebox was started with (see `core/reload.ts`)
 * and answers what changed, or the problems that made it change nothing. It takes no body: what
 * edgebox serves always comes from its file, never from the network. The path is outside
 * `/v1/`, so it needs the `admin` scope like every core route that is not a probe.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { coreError, coreErrors, EdgeboxError } from "./errors.ts";
import type { AppEnv } from "./http_env.ts";
import type { ReloadResult } from "./reload.ts";

/** The path of the route. */
export const RELOAD_PATH = "/admin/reload";

const ReloadAnswerSchema = z.object({
  generation: z.number().int(),
  file: z.string(),
  instances: z.record(
    z.string(),
    z.enum(["unchanged", "added", "removed", "changed", "failed"]),
  ),
  failures: z.record(z.string(), z.string()),
  core: z.array(z.string()),
  ignored: z.array(z.string()),
  note: z.string().optional(),
}).openapi("ReloadAnswer");

const ReloadProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string().optional(),
  file: z.string(),
  problems: z.array(z.string()),
}).openapi("ReloadProblem");

/** Whether a request carries a body (any framing), which this route refuses. */
function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  return (length !== null && length.trim() !== "0") || request.headers.has("transfer-encoding");
}

/** Adds `POST /admin/reload` to the core app. */
export function registerReloadRoute(
  app: OpenAPIHono<AppEnv>,
  reload: () => Promise<ReloadResult>,
): void {
  app.openapi(
    createRoute({
      method: "post",
      path: RELOAD_PATH,
      summary: "Reload the config file; answers what changed per instance",
      tags: ["core"],
      security: [{ apiKey: [] }],
      responses: {
        200: {
          description: "Applied (instances that failed to start are listed; the old ones serve)",
          content: { "application/json": { schema: ReloadAnswerSchema } },
        },
        400: {
          description: "The file is invalid: nothing changed",
          content: { "application/problem+json": { schema: ReloadProblemSchema } },
        },
        409: {
          description: "The change needs a restart, or edgebox is starting or stopping",
          content: { "application/problem+json": { schema: ReloadProblemSchema } },
        },
      },
    }),
    async (c) => {
      if (hasBody(c.req.raw)) {
        throw coreError("core.body_too_large", {
          detail: `${RELOAD_PATH} takes no body: edgebox reloads the file it was started with`,
          field: "body",
        });
      }
      const result = await reload();
      if (!result.ok) {
        throw new EdgeboxError(result.code, coreErrors[result.code], {
          detail: result.detail,
          extra: { file: result.file, problems: result.problems },
        });
      }
      const { ok: _, ...answer } = result;
      return c.json(answer, 200);
    },
  );
}
