/**
 * Config of the messaging plugin: the backend (NATS JetStream, or the embedded broker on SQLite
 * or in memory), the streams
 * and durable consumers created at start, and every limit the HTTP API enforces.
 */
// The OpenAPI-extended zod, so these schemas also document the routes (`.openapi()`).
import { z } from "@hono/zod-openapi";
import type { DataDir } from "../../core/data_dir.ts";
import type { Logger } from "../../core/log.ts";
import { DurabilityConfig } from "../../core/sqlite.ts";
import { duration, size } from "../../core/units.ts";
import type { ConsumerSpec, StreamSpec } from "./driver.ts";
import type { MemoryMessagingOptions } from "./memory.ts";
import type { NatsMessagingOptions } from "./nats.ts";
import type { SqliteMessagingOptions } from "./sqlite.ts";
import { MIN_MAX_AGE } from "./streams.ts";
import { NAME_PATTERN, subjectProblem, type SubjectUse } from "./subjects.ts";

/** The longest subject accepted anywhere, in characters. */
export const MAX_SUBJECT_LENGTH = 256;

const NAME_MESSAGE = "Expected 1-64 characters of A-Z, a-z, 0-9, _ and -";

/** A stream or consumer name. */
export const ResourceName = z.string().regex(NAME_PATTERN, NAME_MESSAGE);

/** Marks a zod issue so the routes answer with this messaging code instead of the core's. */
export interface MessagingIssueParams {
  messagingCode: "messaging.subject_invalid";
}

/** A subject, checked with the same grammar the routes apply. */
export function subject(use: SubjectUse): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const problem = subjectProblem(value, { use, maxLength: MAX_SUBJECT_LENGTH });
    if (problem) {
      const params: MessagingIssueParams = { messagingCode: "messaging.subject_invalid" };
      ctx.addIssue({ code: "custom", message: `Subject ${problem}`, params });
    }
  }) as unknown as z.ZodString;
}

/** A stream's settings without its name (the body of `PUT /streams/{name}`). */
export const StreamFields = {
  /** Subjects the stream captures; wildcards allowed. */
  subjects: z.array(subject("filter")).min(1).max(64),
  retention: z.enum(["limits", "interest", "workqueue"]).default("limits"),
  storage: z.enum(["file", "memory"]).default("file"),
  /** Unlimited when omitted. */
  maxAge: duration().pipe(z.number().min(MIN_MAX_AGE, `At least ${MIN_MAX_AGE}ms`)).optional(),
  maxMsgs: z.number().int().positive().optional(),
  maxBytes: size().pipe(z.number().positive()).optional(),
  /** Default: 2m, or maxAge when that is shorter. */
  duplicateWindow: duration().pipe(z.number().positive()).optional(),
  description: z.string().max(1024).optional(),
};

/** A durable consumer's settings without stream and name (the body of `PUT /consumers/...`). */
export const ConsumerFields = {
  /** Only messages on matching subjects; the whole stream when omitted. */
  filterSubject: subject("filter").optional(),
  ackWait: duration().pipe(z.number().min(1).max(12 * 3_600_000)).default(30_000),
  /** Unlimited when omitted. */
  maxDeliver: z.number().int().min(1).max(1_000_000).optional(),
  deliver: z.enum(["all", "new", "last"]).default("all"),
  maxAckPending: z.number().int().min(1).max(1_000_000).default(1_000),
};

/** A stream in config. */
export const StreamConfig = z.strictObject({ name: ResourceName, ...StreamFields });

/** A durable consumer in config. */
export const ConsumerConfig = z.strictObject({
  stream: ResourceName,
  name: ResourceName,
  ...ConsumerFields,
});

/** Fields every backend shares: provisioning and the HTTP API's limits. */
const common = {
  /** Created or updated, idempotently, at every start. */
  streams: z.array(StreamConfig).max(256).default([]),
  /** Durable pull consumers, created or updated after the streams. */
  consumers: z.array(ConsumerConfig).max(1_024).default([]),
  /** Largest payload plus headers (never above the server's max_payload). */
  maxPayload: size().pipe(z.number().int().min(1).max(64 * 1024 * 1024)).default(1024 * 1024),
  /** Most message headers a publish may carry (`Msg-*` request headers). */
  maxHeaders: z.number().int().min(0).max(256).default(32),
  /** Most messages one fetch returns. */
  maxBatch: z.number().int().min(1).max(10_000).default(256),
  /** Wait of a fetch that names none. */
  defaultFetchWait: duration().default(5_000),
  /** Longest wait a fetch may ask for. */
  maxFetchWait: duration().pipe(z.number().max(300_000)).default(60_000),
  /** Timeout of a request that names none. */
  defaultRequestTimeout: duration().default(5_000),
  /** Longest timeout a request may ask for. */
  maxRequestTimeout: duration().pipe(z.number().max(300_000)).default(60_000),
  /** Live subscriptions (server-sent event streams) open at once, in total. */
  maxSubscriptions: z.number().int().min(0).max(100_000).default(1_000),
  /** Live subscriptions one client (API key) may hold open at once. */
  maxSubscriptionsPerClient: z.number().int().min(0).max(100_000).default(32),
  /** Comment line sent on idle subscriptions so proxies keep them open. */
  keepAlive: duration().pipe(z.number().min(1_000)).default(15_000),
  /** Most streams or consumers one listing returns. */
  maxPageSize: z.number().int().min(1).max(10_000).default(1_000),
  /**
   * Signs ack tokens. Give every replica the same one so any of them accepts a token another
   * issued; when omitted, each process draws a random one (the sqlite backend draws one once
   * and keeps it in its data file, so tokens survive a restart).
   */
  ackSecret: z.string().min(32).optional(),
};

/** Refuses a stream, or a stream's consumer, defined twice. */
function uniqueNames(
  config: { streams: { name: string }[]; consumers: { stream: string; name: string }[] },
  ctx: z.RefinementCtx,
): void {
  const names = new Set<string>();
  config.streams.forEach((stream, i) => {
    if (names.has(stream.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["streams", i, "name"],
        message: `Stream "${stream.name}" is defined twice`,
      });
    }
    names.add(stream.name);
  });
  const consumers = new Set<string>();
  config.consumers.forEach((consumer, i) => {
    const key = `${consumer.stream}/${consumer.name}`;
    if (consumers.has(key)) {
      ctx.addIssue({
        code: "custom",
        path: ["consumers", i, "name"],
        message: `Consumer "${consumer.name}" of stream "${consumer.stream}" is defined twice`,
      });
    }
    consumers.add(key);
  });
}

/** Config of the NATS JetStream backend. */
export const NatsMessagingConfig = z.strictObject({
  backend: z.literal("nats"),
  /** Server URL, or several separated by commas. */
  url: z.string().min(1).default("nats://127.0.0.1:4222"),
  /** Token auth; an empty string means none. */
  token: z.string().optional(),
  user: z.string().optional(),
  password: z.string().optional(),
  /** Path of a `.creds` file (JWT auth). */
  creds: z.string().optional(),
  /** Connection name shown in NATS monitoring (default `edgebox-<instance>`). */
  name: z.string().max(256).optional(),
  connectTimeout: duration().default(5_000),
  /** Bound on every JetStream API call, publish and ack confirmation. */
  apiTimeout: duration().pipe(z.number().min(100)).default(5_000),
  ...common,
}).superRefine(uniqueNames);

/** Config of the embedded, in-process broker. */
export const MemoryMessagingConfig = z.strictObject({
  backend: z.literal("memory"),
  /** Bytes all streams together may hold; publishes past it are refused (507). */
  maxTotalBytes: size().pipe(z.number().positive()).default(256 * 1024 * 1024),
  ...common,
}).superRefine(uniqueNames);

/** Config of the embedded broker with its state in `<dataDir>/<instance>.db` (SQLite). */
export const SqliteMessagingConfig = z.strictObject({
  backend: z.literal("sqlite"),
  /** Bytes all streams together may hold; publishes past it are refused (507). */
  maxTotalBytes: size().pipe(z.number().positive()).default(256 * 1024 * 1024),
  durability: DurabilityConfig,
  ...common,
}).superRefine(uniqueNames);

/** Validated config of the NATS backend. */
export type NatsMessagingConfig = z.output<typeof NatsMessagingConfig>;

/** Validated config of the embedded backend. */
export type MemoryMessagingConfig = z.output<typeof MemoryMessagingConfig>;

/** Validated config of the SQLite backend. */
export type SqliteMessagingConfig = z.output<typeof SqliteMessagingConfig>;

/** Validated messaging config, whichever the backend. */
export type MessagingConfig = NatsMessagingConfig | MemoryMessagingConfig | SqliteMessagingConfig;

/** JSON routes (streams, consumers, acks) need room even when payloads are kept tiny. */
const MIN_BODY_LIMIT = 64 * 1024;

/** The largest request body the routes accept: a payload, or a JSON body of fair size. */
export function bodyLimit(config: MessagingConfig): number {
  return Math.max(config.maxPayload, MIN_BODY_LIMIT);
}

/** What an instance's config and name give every driver. */
interface Instance<Config> {
  /** The instance name. */
  name: string;
  config: Config;
}

/** The options every driver shares: provisioning, ack tokens bound to the instance, limits. */
function commonOptions({ name, config }: Instance<MessagingConfig>) {
  return {
    scope: name,
    maxPayload: config.maxPayload,
    streams: config.streams.map(toStreamSpec),
    consumers: config.consumers.map(toConsumerSpec),
    ...(config.ackSecret === undefined ? {} : { ackSecret: config.ackSecret }),
  };
}

/** The NATS driver's options for an instance. */
export function natsOptions(
  instance: Instance<NatsMessagingConfig> & { log: Logger },
): NatsMessagingOptions {
  const { config } = instance;
  return {
    ...commonOptions(instance),
    url: config.url,
    connectTimeout: config.connectTimeout,
    apiTimeout: config.apiTimeout,
    log: instance.log,
    ...(config.token ? { token: config.token } : {}),
    ...(config.user ? { user: config.user } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.creds ? { creds: config.creds } : {}),
    ...(config.name ? { name: config.name } : {}),
  };
}

/** The embedded broker's options for an instance. */
export function memoryOptions(
  instance: Instance<MemoryMessagingConfig | SqliteMessagingConfig>,
): MemoryMessagingOptions {
  return { ...commonOptions(instance), maxTotalBytes: instance.config.maxTotalBytes };
}

/** The SQLite backend's options: its file in the data directory is named after the instance. */
export function sqliteOptions(
  instance: Instance<SqliteMessagingConfig> & { dataDir: DataDir },
): SqliteMessagingOptions {
  const { name, dataDir } = instance;
  return {
    ...memoryOptions(instance),
    file: () => dataDir.file(`${name}.db`),
    durability: instance.config.durability,
  };
}

/** A stream from config as the driver takes it. */
export function toStreamSpec(stream: z.output<typeof StreamConfig>): StreamSpec {
  return withoutUndefined(stream);
}

/** A consumer from config as the driver takes it. */
export function toConsumerSpec(consumer: z.output<typeof ConsumerConfig>): ConsumerSpec {
  return withoutUndefined(consumer);
}

/** `T` with `undefined` taken out of every member (optional ones stay optional). */
export type Defined<T> = { [K in keyof T]: Exclude<T[K], undefined> };

/** Drops `undefined` members, which exact optional property types do not allow. */
export function withoutUndefined<T extends Record<string, unknown>>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;
}
