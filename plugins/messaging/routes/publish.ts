/**
 * `POST /publish/{subject}`: a message to the stream capturing the subject, acknowledged. Every
 * publish carries a message id, the client's `Idempotency-Key` or one edgebox draws, and the
 * answer names it, a failure's too: an outcome the client cannot know (a 504: the server may have
 * stored the message after all) is retried with that id, and the backend's duplicate window turns
 * the retry into a no-op if the first attempt did land.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { EdgeboxError } from "../../../core/errors.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import type { MessagingDriver } from "../driver.ts";
import { PubAckSchema, pubAckView } from "../schemas.ts";
import { messagingHook, SubjectParam, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";
import { idempotencyKey, outgoingReader } from "./outgoing.ts";

/** The answer to a publish: the receipt and the message id to retry with. */
const PublishedSchema = PubAckSchema.extend({
  msgId: z.string().openapi({
    description: "The message id (`Nats-Msg-Id`): the request's `Idempotency-Key`, or one " +
      "edgebox drew. Retry with it as `Idempotency-Key` to publish at most once.",
  }),
}).openapi("MessagingPublished");

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
        "duplicate window a no-op; without one, edgebox draws an id. The answer (`msgId`), " +
        "and the problem document of a failed publish, carry the id: after a 504 the message " +
        "may be stored, so retry with that id. `Content-Type` and `Msg-<Name>` headers travel " +
        "with the message.",
      request: { params: SubjectParam("publish") },
      responses: {
        200: jsonResponse(PublishedSchema, "Stored (or a duplicate of a message stored earlier)"),
        400: problemResponse("Invalid subject or headers"),
        404: problemResponse("No stream captures the subject"),
        413: problemResponse("Payload too large"),
        503: problemResponse("Backend unavailable (not stored; `msgId` says what to retry with)"),
        504: problemResponse(
          "No acknowledgement in time: the message may be stored; retry with `msgId`",
        ),
      },
    }),
    async (c) => {
      const { subject } = c.req.valid("param");
      const msgId = idempotencyKey(c) ?? crypto.randomUUID();
      const message = await outgoing(c);
      let ack;
      try {
        ack = await driver.publish(subject, message, { msgId });
      } catch (error) {
        throw withMsgId(error, msgId);
      }
      return c.json({ ...pubAckView(ack), msgId }, 200);
    },
    messagingHook,
  );
}

/** The same error, its problem document naming the message id to retry with. */
function withMsgId(error: unknown, msgId: string): unknown {
  if (!(error instanceof EdgeboxError)) return error;
  return new EdgeboxError(error.code, error, {
    detail: error.message,
    ...(error.field === undefined ? {} : { field: error.field }),
    headers: error.headers,
    extra: { ...error.extra, msgId },
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  });
}
