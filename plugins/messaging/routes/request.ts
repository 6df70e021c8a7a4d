/** `POST /request/{subject}`: request-reply over the backend, the reply answered as bytes. */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { problemResponse } from "../../../core/openapi.ts";
import type { MessagingDriver } from "../driver.ts";
import { queryDuration } from "../schemas.ts";
import { messagingHook, SubjectParam, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";
import { outgoingReader } from "./outgoing.ts";

const bytes = (description: string) => ({
  description,
  content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
});

/** Registers the request-reply route on `app`. */
export function registerRequestRoutes(
  app: PluginRoutes,
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): void {
  const outgoing = outgoingReader(driver, options);

  app.openapi(
    createRoute({
      method: "post",
      path: "/request/{subject}",
      summary: "Send a request and answer with the reply (504 when none comes in time)",
      tags: TAGS,
      request: {
        params: SubjectParam("publish"),
        query: z.object({
          timeout: queryDuration(options.maxRequestTimeout, options.defaultRequestTimeout),
        }),
      },
      responses: {
        200: bytes("The reply's payload, with its content type; its headers as Msg-*"),
        503: problemResponse("Nobody answers on the subject"),
        504: problemResponse("No reply in time"),
      },
    }),
    async (c) => {
      const { subject } = c.req.valid("param");
      const { timeout } = c.req.valid("query");
      const reply = await driver.request(subject, await outgoing(c), Math.max(1, timeout));
      const headers = new Headers();
      for (const [name, value] of Object.entries(reply.headers)) {
        if (name.toLowerCase() === "content-type") continue;
        if (/^[A-Za-z0-9-]{1,64}$/.test(name) && !/[\r\n]/.test(value)) {
          headers.set(`msg-${name}`, value);
        }
      }
      headers.set("content-type", reply.headers["Content-Type"] ?? "application/octet-stream");
      return c.body(reply.data as Uint8Array<ArrayBuffer>, 200, Object.fromEntries(headers));
    },
    messagingHook,
  );
}
