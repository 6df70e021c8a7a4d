/**
 * `/consumers`: list, read, create or update, and delete durable pull consumers; fetch messages
 * through one, and settle their deliveries by token (`/ack`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { encodeCursor } from "../../../core/cursor.ts";
import { EdgeboxError } from "../../../core/errors.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { ResourceName, withoutUndefined } from "../config.ts";
import type { AckAction, MessagingDriver } from "../driver.ts";
import {
  ackBody,
  ConsumerBody,
  ConsumerInfoSchema,
  ConsumerListSchema,
  consumerView,
  deliveredView,
  FetchSchema,
  pageQuery,
  queryDuration,
} from "../schemas.ts";
import { cursorAfter } from "./cursor.ts";
import { messagingHook, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";

/** Registers the consumer routes on `app`, with fetching through a consumer and acking. */
export function registerConsumerRoutes(
  app: PluginRoutes,
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): void {
  const ConsumerParams = z.object({
    stream: ResourceName.openapi({ param: { name: "stream", in: "path" }, example: "orders" }),
    consumer: ResourceName.openapi({ param: { name: "consumer", in: "path" }, example: "worker" }),
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/consumers/{stream}",
      summary: "List a stream's durable consumers",
      tags: TAGS,
      request: {
        params: z.object({
          stream: ResourceName.openapi({ param: { name: "stream", in: "path" } }),
        }),
        query: pageQuery(options.maxPageSize),
      },
      responses: {
        200: jsonResponse(ConsumerListSchema, "A page of consumers, by name"),
        400: problemResponse("Invalid limit or cursor"),
        404: problemResponse("No such stream"),
      },
    }),
    async (c) => {
      const { stream } = c.req.valid("param");
      const { limit, cursor } = c.req.valid("query");
      const scope = `${options.instance}/consumers/${stream}`;
      const after = cursorAfter(cursor, scope);
      const { consumers, more } = await driver.listConsumers(
        stream,
        after === undefined ? { limit } : { limit, after },
      );
      const next = more ? encodeCursor(scope, consumers.at(-1)!.config.name) : null;
      return c.json({ consumers: consumers.map(consumerView), cursor: next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/consumers/{stream}/{consumer}",
      summary: "Create or update a durable pull consumer",
      tags: TAGS,
      request: {
        params: ConsumerParams,
        body: { required: true, content: { "application/json": { schema: ConsumerBody } } },
      },
      responses: {
        200: jsonResponse(ConsumerInfoSchema, "Updated"),
        201: jsonResponse(ConsumerInfoSchema, "Created"),
        404: problemResponse("No such stream"),
        409: problemResponse("Conflicts with another consumer, or deliver would change"),
      },
    }),
    async (c) => {
      const { stream, consumer } = c.req.valid("param");
      const body = withoutUndefined(c.req.valid("json"));
      const { info, created } = await driver.putConsumer({ ...body, stream, name: consumer });
      return c.json(consumerView(info), created ? 201 : 200);
    },
    messagingHook,
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/consumers/{stream}/{consumer}",
      summary: "A consumer's config and progress",
      tags: TAGS,
      request: { params: ConsumerParams },
      responses: {
        200: jsonResponse(ConsumerInfoSchema, "The consumer"),
        404: problemResponse("No such stream or consumer"),
      },
    }),
    async (c) => {
      const { stream, consumer } = c.req.valid("param");
      return c.json(consumerView(await driver.consumerInfo(stream, consumer)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/consumers/{stream}/{consumer}",
      summary: "Delete a consumer",
      tags: TAGS,
      request: { params: ConsumerParams },
      responses: {
        204: { description: "Deleted" },
        404: problemResponse("No such stream or consumer"),
      },
    }),
    async (c) => {
      const { stream, consumer } = c.req.valid("param");
      await driver.deleteConsumer(stream, consumer);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/consumers/{stream}/{consumer}/fetch",
      summary:
        "Take up to `batch` messages; answers as soon as one is ready, or empty after `wait`",
      tags: TAGS,
      request: {
        params: ConsumerParams,
        query: z.object({
          batch: z.coerce.number().int().min(1).max(options.maxBatch)
            .default(Math.min(10, options.maxBatch)),
          wait: queryDuration(options.maxFetchWait, options.defaultFetchWait),
        }),
      },
      responses: {
        200: jsonResponse(FetchSchema, "Messages, each with an opaque ack token"),
        404: problemResponse("No such stream or consumer"),
      },
    }),
    async (c) => {
      const { stream, consumer } = c.req.valid("param");
      const { batch, wait } = c.req.valid("query");
      const signal = AbortSignal.any([options.signal, c.req.raw.signal]);
      const messages = await driver.fetch(stream, consumer, { batch, wait, signal });
      if (c.req.raw.signal.aborted && messages.length > 0) {
        // The client left while the fetch waited: hand the messages back for redelivery now.
        await Promise.allSettled(messages.map((m) => driver.ack(m.token, "nak")));
      }
      if (options.onDelivered) { for (const message of messages) options.onDelivered(message); }
      return c.json({ messages: messages.map(deliveredView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/ack",
      summary: "Ack, nak (with an optional delay), term or extend (working) deliveries by token",
      tags: TAGS,
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: ackBody(options.maxBatch) } },
        },
      },
      responses: {
        204: { description: "Done" },
        400: problemResponse("A token this instance did not issue"),
        404: problemResponse("The consumer is gone"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const acks = Array.isArray(body) ? body : [body];
      for (const [i, ack] of acks.entries()) {
        try {
          await driver.ack(
            ack.token,
            ack.action as AckAction,
            withoutUndefined({ delay: ack.delay }),
          );
        } catch (error) {
          if (!Array.isArray(body) || !(error instanceof EdgeboxError) || !error.field) throw error;
          // Name the failing entry of a batch.
          throw error.at(`body.${i}.token`);
        }
      }
      return c.body(null, 204);
    },
  );
}
