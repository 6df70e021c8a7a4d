/**
 * `GET /subscribe/{subject}`: a subject followed as server-sent events, within the instance's
 * and each client's subscription limits, resumable from `Last-Event-ID`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { EdgeboxError } from "../../../core/errors.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { problemResponse } from "../../../core/openapi.ts";
import type { MessagingDriver } from "../driver.ts";
import { DeliverQuery, messageView } from "../schemas.ts";
import { SubscriptionSlots } from "../subscription_slots.ts";
import { messagingHook, SubjectParam, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";

/** Registers the subscribe route on `app`, with the slots its subscriptions take. */
export function registerSubscribeRoutes(
  app: PluginRoutes,
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): void {
  const slots = new SubscriptionSlots({
    max: options.maxSubscriptions,
    maxPerClient: options.maxSubscriptionsPerClient,
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/subscribe/{subject}",
      summary: "Follow a subject as server-sent events (`message` events, `id` = sequence)",
      tags: TAGS,
      request: {
        params: SubjectParam("filter"),
        query: z.object({ deliver: DeliverQuery }),
      },
      responses: {
        200: {
          description: "An event stream; each event's data is a MessagingEvent",
          content: { "text/event-stream": { schema: z.string() } },
        },
        404: problemResponse("No stream captures the subject"),
        429: problemResponse("Too many subscriptions"),
      },
    }),
    async (c) => {
      const { subject } = c.req.valid("param");
      let { deliver } = c.req.valid("query");
      // A reconnecting EventSource resumes after the last event it saw.
      const lastId = c.req.header("last-event-id");
      if (lastId !== undefined && /^\d{1,15}$/.test(lastId)) {
        deliver = { kind: "seq", seq: Number(lastId) + 1 };
      }
      const release = slots.acquire(c.env.principal.name);
      const stop = new AbortController();
      const signal = AbortSignal.any([options.signal, stop.signal, c.req.raw.signal]);
      let subscription;
      try {
        subscription = await driver.subscribe(subject, { deliver, signal });
      } catch (error) {
        release();
        throw error;
      }
      options.onSubscriptions?.(slots.open);
      const sub = subscription;
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => stop.abort());
        const keepAlive = setInterval(() => {
          void stream.write(": keep-alive\n\n");
        }, options.keepAlive);
        try {
          for await (const message of sub) {
            if (signal.aborted) break;
            await stream.writeSSE({
              event: "message",
              id: String(message.seq),
              data: JSON.stringify(messageView(message)),
            });
          }
          if (!stop.signal.aborted) {
            // Ended by the server (shutdown, stream deleted): say so, so clients reconnect.
            await stream.writeSSE({ event: "end", data: JSON.stringify({ reason: "closed" }) });
          }
        } catch (error) {
          // Headers are long sent: the failure travels as an event, and the log says more.
          c.env.log.warn("subscription failed", { subject, error: String(error) });
          const code = error instanceof EdgeboxError ? error.code : "messaging.backend_error";
          await stream.writeSSE({ event: "error", data: JSON.stringify({ code }) });
        } finally {
          clearInterval(keepAlive);
          await sub.close();
          release();
          options.onSubscriptions?.(slots.open);
        }
      });
    },
    messagingHook,
  );
}
