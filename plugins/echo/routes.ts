/** HTTP routes of the echo plugin, written only against {@linkcode EchoDriver}. */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../core/http_env.ts";
import { createRouter } from "../../core/routes.ts";
import { duration, formatDuration } from "../../core/units.ts";
import { sleep } from "../../core/timing.ts";
import type { EchoDriver } from "./driver.ts";

/** Options of {@linkcode echoRoutes}. */
export interface EchoRoutesOptions {
  greeting: string;
  maxDelay: number;
  maxMessageLength: number;
}

/** Builds the echo sub-app. */
export function echoRoutes(driver: EchoDriver, options: EchoRoutesOptions): PluginRoutes {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      summary: "Greeting and request count",
      tags: ["echo"],
      responses: {
        200: {
          description: "Greeting",
          content: {
            "application/json": {
              schema: z.object({ greeting: z.string(), requests: z.number() }),
            },
          },
        },
      },
    }),
    (c) => c.json({ greeting: options.greeting, requests: driver.count() }, 200),
  );

  const Message = z.object({
    message: z.string().min(1).max(options.maxMessageLength),
    repeat: z.number().int().min(1).max(10).default(1),
  }).strict().openapi("EchoMessage");

  app.openapi(
    createRoute({
      method: "post",
      path: "/messages",
      summary: "Echo a JSON message back",
      tags: ["echo"],
      request: { body: { required: true, content: { "application/json": { schema: Message } } } },
      responses: {
        200: {
          description: "The echo",
          content: {
            "application/json": { schema: z.object({ echo: z.string(), requestId: z.string() }) },
          },
        },
      },
    }),
    (c) => {
      const { message, repeat } = c.req.valid("json");
      driver.count();
      return c.json(
        { echo: Array(repeat).fill(message).join(" "), requestId: c.env.requestId },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/delay",
      summary: "Answer after a delay (a slow request, for shutdown and timeout tests)",
      tags: ["echo"],
      request: {
        query: z.object({
          ms: z.coerce.number().int().min(0).max(options.maxDelay)
            .openapi({ description: `Milliseconds to wait, at most ${options.maxDelay}` }),
        }),
      },
      responses: {
        200: {
          description: "Waited",
          content: { "application/json": { schema: z.object({ waitedMs: z.number() }) } },
        },
      },
    }),
    async (c) => {
      const { ms } = c.req.valid("query");
      // Not tied to the request signal: an in-flight request must finish during shutdown.
      await sleep(ms);
      return c.json({ waitedMs: ms }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/outage",
      summary: "Make the backend unreachable for a while (shows degraded mode and recovery)",
      tags: ["echo"],
      request: {
        body: {
          required: true,
          content: {
            "application/json": {
              schema: z.object({
                duration: duration().pipe(z.number().max(600_000, "At most 10m")).openapi({
                  example: "2s",
                }),
              }).strict(),
            },
          },
        },
      },
      responses: {
        202: {
          description: "Outage begun",
          content: { "application/json": { schema: z.object({ until: z.string() }) } },
        },
      },
    }),
    (c) => {
      const { duration: ms } = c.req.valid("json");
      driver.simulateOutage(ms);
      return c.json({
        until: new Date(Date.now() + ms).toISOString(),
        duration: formatDuration(ms),
      }, 202);
    },
  );

  return app;
}
