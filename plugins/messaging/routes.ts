/**
 * HTTP routes of the messaging plugin, written only against {@linkcode MessagingDriver}. Message
 * bodies pass through as bytes with their content type; everything else is JSON. Subjects,
 * names, batch sizes, waits, timeouts, headers and payload sizes are validated here (4xx naming
 * the field) before the driver sees them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { CursorError, decodeCursor, encodeCursor } from "../../core/cursor.ts";
import { EdgeboxError } from "../../core/errors.ts";
import type { AppEnv, PluginRoutes } from "../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../core/openapi.ts";
import type { PluginContext } from "../../core/plugin.ts";
import { createRouter, validationError } from "../../core/routes.ts";
import {
  MAX_SUBJECT_LENGTH,
  type MessagingConfig,
  type MessagingIssueParams,
  ResourceName,
  subject,
  withoutUndefined,
} from "./config.ts";
import { deliverySpans } from "./delivery_trace.ts";
import type {
  AckAction,
  DeliveredMessage,
  MessageHeaders,
  MessagingDriver,
  OutgoingMessage,
} from "./driver.ts";
import { messagingError } from "./errors.ts";
import { payloadSize } from "./payload.ts";
import { NAME_PATTERN } from "./subjects.ts";
import {
  ackBody,
  ConsumerBody,
  ConsumerInfoSchema,
  ConsumerListSchema,
  consumerView,
  deliveredView,
  DeliverQuery,
  FetchSchema,
  messageView,
  pageQuery,
  PubAckSchema,
  pubAckView,
  queryDuration,
  type SchemaLimits,
  StreamBody,
  StreamInfoSchema,
  StreamListSchema,
  streamView,
} from "./schemas.ts";
import { SubscriptionSlots } from "./subscription_slots.ts";

/** Options of {@linkcode messagingRoutes}. */
export interface MessagingRoutesOptions extends SchemaLimits {
  /** The instance name: listing cursors are bound to it. */
  instance: string;
  /** Largest payload plus headers accepted (the driver's own limit may be lower). */
  maxPayload: number;
  /** Most `Msg-*` headers a publish or request may carry. */
  maxHeaders: number;
  maxSubscriptions: number;
  maxSubscriptionsPerClient: number;
  /** Interval of keep-alive comments on idle subscriptions, in milliseconds. */
  keepAlive: number;
  /** Ends every live subscription and waiting fetch (edgebox draining, instance stopping). */
  signal: AbortSignal;
  /** W3C trace context to carry in published messages. */
  traceHeaders?: () => Record<string, string>;
  /**
   * Called for each fetched message, to record its delivery in the publisher's trace (the
   * `traceparent` the publish carried), so a consumer's fetch continues that trace.
   */
  onDelivered?: (message: DeliveredMessage) => void;
  /** Called when a subscription opens (+1) or closes (-1). */
  onSubscriptions?: (open: number) => void;
}

const TAGS = ["messaging"];
const MSG_HEADER = /^msg-([A-Za-z0-9][A-Za-z0-9-]{0,63})$/i;
const MSG_ID = /^[\x21-\x7e]{1,256}$/;

const bytes = (description: string) => ({
  description,
  content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
});

const REQUEST_PART: Record<string, string> = { json: "body", query: "query", param: "path" };

/** Validation hook: a bad subject is `messaging.subject_invalid`; anything else the core's 400. */
function messagingHook(result: { success: boolean; target: string; error?: z.ZodError }) {
  if (result.success || !result.error) return undefined;
  const codeOf = (issue: z.core.$ZodIssue) =>
    (issue as { params?: Partial<MessagingIssueParams> }).params?.messagingCode;
  const found = result.error.issues.find((issue) => codeOf(issue) !== undefined);
  if (!found) throw validationError(result.target, result.error);
  const field = [REQUEST_PART[result.target] ?? result.target, ...found.path.map(String)].join(".");
  throw messagingError(codeOf(found)!, { detail: `${field}: ${found.message}`, field });
}

/** Canonical header name (`trace-id` -> `Trace-Id`), as NATS clients write them. */
function canonical(name: string): string {
  return name.toLowerCase().replace(
    /(^|-)([a-z])/g,
    (_, dash, letter) => dash + letter.toUpperCase(),
  );
}

/** The message headers a request carries: its content type and its `Msg-*` headers. */
function messageHeaders(c: Context<AppEnv>, maxHeaders: number): MessageHeaders {
  const headers: MessageHeaders = {};
  let count = 0;
  for (const [name, value] of c.req.raw.headers) {
    const match = MSG_HEADER.exec(name);
    if (!match) continue;
    if (++count > maxHeaders) {
      throw messagingError("messaging.headers_invalid", {
        detail: `A message may carry at most ${maxHeaders} Msg-* headers`,
        field: `header.${name}`,
        extra: { limit: maxHeaders },
      });
    }
    headers[canonical(match[1]!)] = value;
  }
  const type = c.req.header("content-type");
  if (type) headers["Content-Type"] = type;
  return headers;
}

/** The idempotency key of a publish (`Idempotency-Key`, or NATS's own `Nats-Msg-Id`). */
function idempotencyKey(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("idempotency-key") !== undefined ? "idempotency-key" : "nats-msg-id";
  const key = c.req.header(header);
  if (key === undefined) return undefined;
  if (!MSG_ID.test(key)) {
    throw messagingError("messaging.headers_invalid", {
      detail: `header.${header}: expected 1-256 visible ASCII characters`,
      field: `header.${header}`,
    });
  }
  return key;
}

/** The position a listing cursor carries: the last name of the previous page. */
function cursorAfter(cursor: string | undefined, scope: string): string | undefined {
  if (cursor === undefined) return undefined;
  let position: unknown;
  try {
    position = decodeCursor(cursor, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw messagingError("messaging.cursor_invalid", {
      detail: error.message,
      field: "query.cursor",
      cause: error,
    });
  }
  if (typeof position === "string" && NAME_PATTERN.test(position)) return position;
  throw messagingError("messaging.cursor_invalid", {
    detail: "The cursor is not one this API returned",
    field: "query.cursor",
  });
}

/** The routes' options for a plugin instance: its config, its lifecycle signals, its hooks. */
export function routeOptions(ctx: PluginContext<MessagingConfig>): MessagingRoutesOptions {
  const subscriptions = ctx.metrics.gauge(
    "edgebox_messaging_subscriptions",
    "Server-sent event subscriptions open now",
  );
  return {
    ...ctx.config,
    instance: ctx.name,
    signal: AbortSignal.any([ctx.draining, ctx.signal]),
    traceHeaders: () => ctx.traceHeaders(),
    onDelivered: deliverySpans(ctx),
    onSubscriptions: (open) => subscriptions.set(open),
  };
}

/** Builds the messaging sub-app. */
export function messagingRoutes(
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): PluginRoutes {
  const app = createRouter();
  const slots = new SubscriptionSlots({
    max: options.maxSubscriptions,
    maxPerClient: options.maxSubscriptionsPerClient,
  });
  const limit = () => Math.min(options.maxPayload, driver.maxPayload());

  /** The message a publish or request sends: body bytes, headers, within the payload limit. */
  async function outgoing(c: Context<AppEnv>): Promise<OutgoingMessage> {
    const headers = { ...messageHeaders(c, options.maxHeaders), ...options.traceHeaders?.() };
    const max = limit();
    const declared = Number(c.req.header("content-length") ?? 0);
    const tooLarge = () =>
      messagingError("messaging.payload_too_large", {
        detail: `The message exceeds the payload limit of ${max} bytes`,
        field: "body",
        extra: { limit: max },
      });
    if (declared > max) throw tooLarge();
    const data = new Uint8Array(await c.req.arrayBuffer());
    if (payloadSize(headers, data) > max) throw tooLarge();
    return { data, headers };
  }

  const SubjectParam = (use: "publish" | "filter") =>
    z.object({
      subject: subject(use).openapi({
        param: { name: "subject", in: "path" },
        example: use === "publish" ? "orders.created" : "orders.>",
        description: `Dot-separated tokens, at most ${MAX_SUBJECT_LENGTH} characters${
          use === "publish" ? "; no wildcards" : "; * matches one token, > the rest"
        }`,
      }),
    });

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

  const StreamParam = z.object({
    name: ResourceName.openapi({ param: { name: "name", in: "path" }, example: "orders" }),
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/streams",
      summary: "List streams with their config and state",
      tags: TAGS,
      request: { query: pageQuery(options.maxPageSize) },
      responses: {
        200: jsonResponse(StreamListSchema, "A page of streams, by name"),
        400: problemResponse("Invalid limit or cursor"),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const scope = `${options.instance}/streams`;
      const after = cursorAfter(cursor, scope);
      const { streams, more } = await driver.listStreams(
        after === undefined ? { limit } : { limit, after },
      );
      const next = more ? encodeCursor(scope, streams.at(-1)!.config.name) : null;
      return c.json({ streams: streams.map(streamView), cursor: next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/streams/{name}",
      summary: "A stream's config and state",
      tags: TAGS,
      request: { params: StreamParam },
      responses: {
        200: jsonResponse(StreamInfoSchema, "The stream"),
        404: problemResponse("No such stream"),
      },
    }),
    async (c) => c.json(streamView(await driver.streamInfo(c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/streams/{name}",
      summary: "Create or update a stream",
      tags: TAGS,
      request: {
        params: StreamParam,
        body: { required: true, content: { "application/json": { schema: StreamBody } } },
      },
      responses: {
        200: jsonResponse(StreamInfoSchema, "Updated"),
        201: jsonResponse(StreamInfoSchema, "Created"),
        409: problemResponse("Subjects overlap another stream, or retention/storage would change"),
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const body = withoutUndefined(c.req.valid("json"));
      const { info, created } = await driver.putStream({ ...body, name });
      return c.json(streamView(info), created ? 201 : 200);
    },
    messagingHook,
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/streams/{name}",
      summary: "Delete a stream with its messages and consumers",
      tags: TAGS,
      request: { params: StreamParam },
      responses: { 204: { description: "Deleted" }, 404: problemResponse("No such stream") },
    }),
    async (c) => {
      await driver.deleteStream(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );

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

  return app;
}
