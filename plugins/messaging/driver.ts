/**
 * What every messaging backend does: streams that capture subjects, publishes acknowledged with a
 * sequence number, durable pull consumers with explicit acks, live subscriptions and
 * request/reply. The routes and the contract suite speak only to this interface, so a new backend
 * (a durable embedded broker, say) plugs in without touching either. No Hono in here.
 */
import type { HealthReport } from "../../core/plugin.ts";

/** How a stream decides a message may go: by its limits, once every consumer acked it, or once one did. */
export type Retention = "limits" | "interest" | "workqueue";

/** Where a stream keeps its messages on a backend that has the choice. */
export type StorageKind = "file" | "memory";

/** Where a durable consumer starts. */
export type ConsumerStart = "all" | "new" | "last";

/** Where a live subscription starts. */
export type DeliverPolicy =
  | { kind: "all" }
  | { kind: "new" }
  | { kind: "last" }
  | { kind: "seq"; seq: number }
  | { kind: "time"; time: Date };

/** What a client acknowledges a delivery with. */
export type AckAction = "ack" | "nak" | "term" | "working";

/** Capabilities that differ between backends; the contract suite checks each claim. */
export type MessagingFeature =
  /** Published and acked state survives a restart of the backend itself (file storage). */
  "persistence";

/** Message headers: one value per name (several values are joined with ", "). */
export type MessageHeaders = Record<string, string>;

/** A stream's settings. Omitted limits are unlimited. */
export interface StreamSpec {
  name: string;
  /** Subjects (wildcards allowed) whose messages the stream keeps. */
  subjects: string[];
  retention: Retention;
  storage: StorageKind;
  /** Oldest message age kept, in milliseconds. */
  maxAge?: number;
  /** Most messages kept; the oldest go first. */
  maxMsgs?: number;
  /** Most bytes kept; the oldest go first. */
  maxBytes?: number;
  /** How long an idempotency key makes a repeated publish a no-op, in milliseconds. */
  duplicateWindow?: number;
  description?: string;
}

/** A stream's settings as the backend applied them (the duplicate window resolved). */
export type StreamSettings = StreamSpec & { duplicateWindow: number };

/** What a stream holds now. */
export interface StreamState {
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** ISO time of the first and last message kept, when there is one. */
  firstTime?: string;
  lastTime?: string;
  consumers: number;
}

/** A stream's settings and state. */
export interface StreamInfo {
  config: StreamSettings;
  state: StreamState;
  /** ISO time the stream was created. */
  created: string;
}

/** A durable pull consumer's settings. */
export interface ConsumerSpec {
  stream: string;
  name: string;
  /** Only messages on matching subjects (wildcards allowed); all of the stream when omitted. */
  filterSubject?: string;
  /** How long a delivery may stay unacked before it is redelivered, in milliseconds. */
  ackWait: number;
  /** Deliveries of one message at most; unlimited when omitted. */
  maxDeliver?: number;
  /** Where a new consumer starts (fixed once created). */
  deliver: ConsumerStart;
  /** Deliveries outstanding at once at most; further fetches wait for acks. */
  maxAckPending: number;
}

/** A consumer's settings and progress. */
export interface ConsumerInfo {
  config: ConsumerSpec;
  /** Matching messages not delivered yet. */
  pending: number;
  /** Deliveries waiting for an ack. */
  ackPending: number;
  /** Messages delivered more than once and not acked yet. */
  redelivered: number;
  /** Stream sequence of the last message delivered. */
  lastDelivered: number;
  /** Stream sequence up to which everything is acked. */
  ackFloor: number;
  /** ISO time the consumer was created. */
  created: string;
}

/** A message to publish, request or reply with. */
export interface OutgoingMessage {
  data: Uint8Array;
  headers?: MessageHeaders;
}

/** Options of {@linkcode MessagingDriver.publish}. */
export interface PublishOptions {
  /** Idempotency key: a repeat inside the stream's duplicate window is not stored again. */
  msgId?: string;
}

/** The backend's receipt for a stored message. */
export interface PubAck {
  stream: string;
  seq: number;
  /** True when the idempotency key was seen inside the window (seq is the original's). */
  duplicate: boolean;
}

/** A message as a stream keeps it. */
export interface StoredMessage {
  stream: string;
  subject: string;
  seq: number;
  time: Date;
  headers: MessageHeaders;
  data: Uint8Array;
}

/** A message handed to a durable consumer, to be acknowledged with its token. */
export interface DeliveredMessage extends StoredMessage {
  /** 1 on first delivery. */
  deliveries: number;
  /** Opaque and tamper-proof: only this backend instance can act on it. */
  token: string;
}

/** Options of {@linkcode MessagingDriver.fetch}. */
export interface FetchOptions {
  /** Messages at most. */
  batch: number;
  /** How long to wait for the first message when none is ready, in milliseconds. */
  wait: number;
  /** Ends the wait early (client gone, shutdown); what was taken is still returned. */
  signal?: AbortSignal;
}

/** Options of {@linkcode MessagingDriver.ack}. */
export interface AckOptions {
  /** For `nak`: redeliver no sooner than this, in milliseconds. */
  delay?: number;
}

/** Options of {@linkcode MessagingDriver.subscribe}. */
export interface SubscribeOptions {
  deliver: DeliverPolicy;
  /** Ends the subscription. */
  signal: AbortSignal;
}

/** A live, ordered view of a stream's messages; iteration ends when it is closed. */
export interface Subscription extends AsyncIterable<StoredMessage> {
  /** The stream the filter resolved to. */
  readonly stream: string;
  /** Ends the iteration; safe to call twice. */
  close(): Promise<void>;
}

/** A reply to a request. */
export interface ReplyMessage {
  data: Uint8Array;
  headers: MessageHeaders;
}

/** A request as a responder receives it. */
export interface IncomingRequest {
  subject: string;
  data: Uint8Array;
  headers: MessageHeaders;
}

/** Answers requests on a subject (for in-process services using the plugin's exports). */
export type RequestHandler = (
  request: IncomingRequest,
) => OutgoingMessage | Promise<OutgoingMessage>;

/** A registered responder. */
export interface Responder {
  /** Stops answering; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Which page of a listing by name: the first `limit` names (in code-point order) after `after`,
 * from the start when it is omitted. Keyed by name, so a page stays right while others are added
 * or deleted.
 */
export interface Page {
  limit: number;
  after?: string;
}

/** One page of streams; `more` is true when names follow the last one. */
export interface StreamPage {
  streams: StreamInfo[];
  more: boolean;
}

/** One page of a stream's consumers; `more` is true when names follow the last one. */
export interface ConsumerPage {
  consumers: ConsumerInfo[];
  more: boolean;
}

/** A messaging backend. Every failure is an `EdgeboxError` from the messaging error table. */
export interface MessagingDriver extends AsyncDisposable {
  /** The backend's name (`nats`, `memory`). */
  readonly backend: string;
  /** Capabilities beyond the common contract. */
  readonly features: ReadonlySet<MessagingFeature>;

  /** Connects and creates the configured streams and consumers; idempotent and cheap when connected. */
  connect(): Promise<void>;
  /** Cheap health probe, no I/O. */
  ping(): HealthReport;
  /** The largest payload (plus headers) the backend accepts, in bytes. */
  maxPayload(): number;

  /** Stores a message in the stream that captures `subject`. */
  publish(subject: string, message: OutgoingMessage, options?: PublishOptions): Promise<PubAck>;
  /** Starts a live subscription on the stream that captures `filter`. */
  subscribe(filter: string, options: SubscribeOptions): Promise<Subscription>;
  /** Sends a request and waits for one reply. */
  request(subject: string, message: OutgoingMessage, timeout: number): Promise<ReplyMessage>;
  /** Answers requests on `subject` until closed. */
  respond(subject: string, handler: RequestHandler): Promise<Responder>;

  /** Streams, by name, one page at a time. */
  listStreams(page: Page): Promise<StreamPage>;
  streamInfo(name: string): Promise<StreamInfo>;
  /** Creates or updates a stream; `created` tells which. */
  putStream(spec: StreamSpec): Promise<{ info: StreamInfo; created: boolean }>;
  deleteStream(name: string): Promise<void>;

  /** A stream's consumers, by name, one page at a time. */
  listConsumers(stream: string, page: Page): Promise<ConsumerPage>;
  consumerInfo(stream: string, name: string): Promise<ConsumerInfo>;
  /** Creates or updates a durable pull consumer; `created` tells which. */
  putConsumer(spec: ConsumerSpec): Promise<{ info: ConsumerInfo; created: boolean }>;
  deleteConsumer(stream: string, name: string): Promise<void>;

  /**
   * Takes up to `batch` messages for a durable consumer: returns as soon as at least one is
   * ready, or empty after `wait`. No two fetches get the same message while it is unacked.
   */
  fetch(stream: string, consumer: string, options: FetchOptions): Promise<DeliveredMessage[]>;
  /** Acts on a delivery by its token; acking twice is not an error. */
  ack(token: string, action: AckAction, options?: AckOptions): Promise<void>;

  /** Ends subscriptions and waits, then disconnects; safe to call twice. */
  close(): Promise<void>;
}
