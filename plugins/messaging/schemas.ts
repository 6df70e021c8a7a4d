/**
 * The JSON the messaging API speaks: zod schemas for request bodies and queries (validation and
 * OpenAPI from one source) and the views that turn driver results into response bodies, with
 * durations written the way config writes them (`30s`).
 */
import { z } from "@hono/zod-openapi";
import { formatDuration, parseDuration } from "../../core/units.ts";
import { ConsumerFields, StreamFields } from "./config.ts";
import type {
  ConsumerInfo,
  DeliveredMessage,
  DeliverPolicy,
  PubAck,
  StoredMessage,
  StreamInfo,
} from "./driver.ts";
import { encodePayload } from "./payload.ts";

/** Limits the schemas enforce. */
export interface SchemaLimits {
  maxBatch: number;
  maxFetchWait: number;
  defaultFetchWait: number;
  maxRequestTimeout: number;
  defaultRequestTimeout: number;
  maxPageSize: number;
}

/** A duration in a query string: `500ms`, `5s`, or a bare number of milliseconds. */
export function queryDuration(max: number, fallback: number) {
  return z.string().optional().transform((value, ctx) => {
    if (value === undefined || value === "") return fallback;
    const ms = /^\d+$/.test(value) ? Number(value) : parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: "Expected a duration such as 500ms, 5s or 1m" });
      return z.NEVER;
    }
    if (ms > max) {
      ctx.addIssue({ code: "custom", message: `At most ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  }).openapi({ type: "string", example: "5s" });
}

/** `limit` and `cursor` of a listing (a cursor is checked when decoded, against its listing). */
export function pageQuery(maxPageSize: number) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(maxPageSize).default(Math.min(100, maxPageSize)),
    cursor: z.string().optional().openapi({
      description: "The `cursor` of the previous page, unchanged; the first page without one",
    }),
  });
}

/** The `cursor` member of a page: what to send back for the next page, `null` on the last. */
const NextCursor = z.string().nullable().openapi({
  description: "Opaque; pass it back as ?cursor= for the next page. null on the last page",
});

/** Where a subscription starts: `new`, `all`, `last`, `seq:N` or `time:RFC3339`. */
export const DeliverQuery = z.string().optional().transform((value, ctx): DeliverPolicy => {
  const text = value ?? "new";
  if (text === "new" || text === "all" || text === "last") return { kind: text };
  const seq = /^seq:(\d{1,15})$/.exec(text);
  if (seq && Number(seq[1]) >= 1) return { kind: "seq" as const, seq: Number(seq[1]) };
  const time = /^time:(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d))$/.exec(text);
  if (time && !Number.isNaN(Date.parse(time[1]!))) {
    return { kind: "time" as const, time: new Date(time[1]!) };
  }
  ctx.addIssue({
    code: "custom",
    message: "Expected new, all, last, seq:N (N >= 1) or time:<RFC 3339 time>",
  });
  return z.NEVER;
}).openapi({ type: "string", example: "new" });

/** The body of `PUT /streams/{name}`. */
export const StreamBody = z.strictObject(StreamFields).openapi("MessagingStreamConfig");

/** The body of `PUT /consumers/{stream}/{consumer}`. */
export const ConsumerBody = z.strictObject(ConsumerFields).openapi("MessagingConsumerConfig");

/** One ack in the body of `POST /ack`. */
export const AckItem = z.strictObject({
  token: z.string().min(1).max(4_096),
  action: z.enum(["ack", "nak", "term", "working"]).default("ack"),
  /** For nak: redeliver no sooner than this. */
  delay: z.union([
    z.number().int().min(0),
    z.string().regex(/^\d+(?:\.\d+)?(ms|s|m|h|d)$/, "Expected a duration such as 500ms or 5s"),
  ]).transform((v) => typeof v === "number" ? v : parseDuration(v)!)
    .pipe(z.number().max(86_400_000, "At most 1d")).optional(),
}).refine((ack) => ack.delay === undefined || ack.action === "nak", {
  message: "delay applies to nak only",
  path: ["delay"],
});

/** The body of `POST /ack`: one ack, or several. */
export function ackBody(maxBatch: number) {
  return z.union([AckItem, z.array(AckItem).min(1).max(maxBatch)]).openapi("MessagingAck");
}

/** The answer to a publish. */
export const PubAckSchema = z.object({
  stream: z.string(),
  seq: z.number(),
  duplicate: z.boolean(),
}).openapi("MessagingPubAck");

const Headers = z.record(z.string(), z.string());

const StreamConfigView = z.object({
  name: z.string(),
  subjects: z.array(z.string()),
  retention: z.enum(["limits", "interest", "workqueue"]),
  storage: z.enum(["file", "memory"]),
  maxAge: z.string().optional(),
  maxMsgs: z.number().optional(),
  maxBytes: z.number().optional(),
  duplicateWindow: z.string(),
  description: z.string().optional(),
});

/** A stream's config and state. */
export const StreamInfoSchema = z.object({
  config: StreamConfigView,
  state: z.object({
    messages: z.number(),
    bytes: z.number(),
    firstSeq: z.number(),
    lastSeq: z.number(),
    firstTime: z.string().optional(),
    lastTime: z.string().optional(),
    consumers: z.number(),
  }),
  created: z.string(),
}).openapi("MessagingStream");

/** A page of streams, by name. */
export const StreamListSchema = z.object({
  streams: z.array(StreamInfoSchema),
  cursor: NextCursor,
}).openapi("MessagingStreamList");

/** A consumer's config and progress. */
export const ConsumerInfoSchema = z.object({
  config: z.object({
    stream: z.string(),
    name: z.string(),
    filterSubject: z.string().optional(),
    ackWait: z.string(),
    maxDeliver: z.number().optional(),
    deliver: z.enum(["all", "new", "last"]),
    maxAckPending: z.number(),
  }),
  pending: z.number(),
  ackPending: z.number(),
  redelivered: z.number(),
  lastDelivered: z.number(),
  ackFloor: z.number(),
  created: z.string(),
}).openapi("MessagingConsumer");

/** A page of consumers, by name. */
export const ConsumerListSchema = z.object({
  consumers: z.array(ConsumerInfoSchema),
  cursor: NextCursor,
}).openapi("MessagingConsumerList");

const MessageFields = {
  stream: z.string(),
  subject: z.string(),
  seq: z.number(),
  time: z.string(),
  headers: Headers,
  data: z.string(),
  encoding: z.enum(["utf8", "base64"]),
};

/** A message in a server-sent event. */
export const EventSchema = z.object(MessageFields).openapi("MessagingEvent");

/** What a fetch answers. */
export const FetchSchema = z.object({
  messages: z.array(z.object({
    ...MessageFields,
    deliveries: z.number(),
    token: z.string().openapi({ description: "Opaque; hand it to POST /ack" }),
  })),
}).openapi("MessagingFetch");

/** A publish receipt as JSON. */
export function pubAckView(ack: PubAck): z.infer<typeof PubAckSchema> {
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
}

/** A stored message as JSON (an SSE event's data). */
export function messageView(message: StoredMessage): z.infer<typeof EventSchema> {
  return {
    stream: message.stream,
    subject: message.subject,
    seq: message.seq,
    time: message.time.toISOString(),
    headers: message.headers,
    ...encodePayload(message.data),
  };
}

/** A delivered message as JSON, with its ack token. */
export function deliveredView(message: DeliveredMessage) {
  return { ...messageView(message), deliveries: message.deliveries, token: message.token };
}

/** A stream's info as JSON. */
export function streamView(info: StreamInfo): z.infer<typeof StreamInfoSchema> {
  const { maxAge, duplicateWindow, ...rest } = info.config;
  return {
    config: {
      ...rest,
      ...(maxAge === undefined ? {} : { maxAge: formatDuration(maxAge) }),
      duplicateWindow: formatDuration(duplicateWindow),
    },
    state: info.state,
    created: info.created,
  };
}

/** A consumer's info as JSON. */
export function consumerView(info: ConsumerInfo): z.infer<typeof ConsumerInfoSchema> {
  return { ...info, config: { ...info.config, ackWait: formatDuration(info.config.ackWait) } };
}
