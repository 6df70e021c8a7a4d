/** `POST /publish/{subject}`: a message to the stream capturing the subject, acknowledged. */
import { createRoute } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import type { MessagingDriver } from "../driver.ts";
import { PubAckSchema, pubAckView } from "../schemas.ts";
import { messagingHook, SubjectParam, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";
import { idempotencyKey, outgoingReader } from "./outgoing.ts";

/** Registers the publish route on `app`. */
export function registerPublishRoutes(
  app: PluginRoutes,
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): void {
  const outgoing = outgoingReader(driver, options);

  app.openapi(
    createRoute({
      method: "post",
      path: "/publish/{subject}",
      summary: "Publish a message (the body, as bytes) to the stream capturing the subject",
      tags: TAGS,
      description: "`Idempotency-Key` (or `Nats-Msg-Id`) makes a retry inside the stream's " +
        "duplicate window a no-op; `Content-Type` and `Msg-<Name>` headers travel with the message.",
      request: { params: SubjectParam("publish") },
      responses: {
        200: jsonResponse(PubAckSchema, "Stored (or a duplicate of a message stored earlier)"),
        400: problemResponse("Invalid subject or headers"),
        404: problemResponse("No stream captures the subject"),
        413: problemResponse("Payload too large"),
        503: problemResponse("Backend unavailable"),
      },
    }),
    async (c) => {
      const { subject } = c.req.valid("param");
      const msgId = idempotencyKey(c);
      const message = await outgoing(c);
      const ack = await driver.publish(subject, message, msgId === undefined ? {} : { msgId });
      return c.json(pubAckView(ack), 200);
    },
    messagingHook,
  );
}
