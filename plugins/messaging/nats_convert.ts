/**
 * Translations between the driver's types and NATS JetStream's: stream and consumer configs,
 * infos, headers, `$JS.ACK` reply subjects, and client-library errors into the messaging error
 * table (the original kept as `cause`).
 */
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo as NatsConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo as NatsStreamInfo,
} from "@nats-io/jetstream";
import { errors, headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { EdgeboxError } from "../../core/errors.ts";
import type {
  ConsumerInfo,
  ConsumerSpec,
  ConsumerStart,
  MessageHeaders,
  Retention,
  StorageKind,
  StreamInfo,
  StreamSettings,
} from "./driver.ts";
import { messagingError, type MessagingErrorCode } from "./errors.ts";

const NS = 1_000_000;

/** Milliseconds as JetStream's nanoseconds. */
export function nanos(ms: number): number {
  return Math.round(ms * NS);
}

/** JetStream's nanoseconds as milliseconds. */
export function millis(ns: number): number {
  return Math.round(ns / NS);
}

const retentions: Record<Retention, RetentionPolicy> = {
  limits: RetentionPolicy.Limits,
  interest: RetentionPolicy.Interest,
  workqueue: RetentionPolicy.Workqueue,
};

const starts: Record<ConsumerStart, DeliverPolicy> = {
  all: DeliverPolicy.All,
  new: DeliverPolicy.New,
  last: DeliverPolicy.Last,
};

/** The JetStream config of a stream; every limit is sent, so an update can lift one. */
export function toStreamConfig(settings: StreamSettings): StreamConfig {
  const config: Partial<StreamConfig> = {
    name: settings.name,
    subjects: settings.subjects,
    retention: retentions[settings.retention],
    storage: settings.storage === "file" ? StorageType.File : StorageType.Memory,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.maxAge ?? 0),
    max_msgs: settings.maxMsgs ?? -1,
    max_bytes: settings.maxBytes ?? -1,
    duplicate_window: nanos(settings.duplicateWindow),
  };
  if (settings.description !== undefined) config.description = settings.description;
  return config as StreamConfig;
}

/** A JetStream stream info in the driver's terms. */
export function fromStreamInfo(info: NatsStreamInfo): StreamInfo {
  const c = info.config;
  const config: StreamSettings = {
    name: c.name,
    subjects: c.subjects ?? [],
    retention: (Object.entries(retentions).find(([, v]) => v === c.retention)?.[0] ??
      "limits") as Retention,
    storage: (c.storage === StorageType.Memory ? "memory" : "file") as StorageKind,
    duplicateWindow: millis(c.duplicate_window ?? 0),
  };
  if (c.max_age > 0) config.maxAge = millis(c.max_age);
  if (c.max_msgs > 0) config.maxMsgs = c.max_msgs;
  if (c.max_bytes > 0) config.maxBytes = c.max_bytes;
  if (c.description) config.description = c.description;
  const s = info.state;
  const state: StreamInfo["state"] = {
    messages: s.messages,
    bytes: s.bytes,
    firstSeq: s.first_seq,
    lastSeq: s.last_seq,
    consumers: s.consumer_count,
  };
  if (s.messages > 0) {
    state.firstTime = new Date(s.first_ts).toISOString();
    state.lastTime = new Date(s.last_ts).toISOString();
  }
  return { config, state, created: new Date(info.created).toISOString() };
}

/** The JetStream config of a durable pull consumer. */
export function toConsumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.name,
    name: spec.name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(spec.ackWait),
    max_deliver: spec.maxDeliver ?? -1,
    deliver_policy: starts[spec.deliver],
    max_ack_pending: spec.maxAckPending,
  };
  if (spec.filterSubject !== undefined) config.filter_subject = spec.filterSubject;
  return config;
}

/** A JetStream consumer info in the driver's terms. */
export function fromConsumerInfo(info: NatsConsumerInfo): ConsumerInfo {
  const c = info.config;
  const config: ConsumerSpec = {
    stream: info.stream_name,
    name: info.name,
    ackWait: millis(c.ack_wait ?? 30_000 * NS),
    deliver: (Object.entries(starts).find(([, v]) => v === c.deliver_policy)?.[0] ??
      "all") as ConsumerStart,
    maxAckPending: c.max_ack_pending ?? 1_000,
  };
  if (c.filter_subject) config.filterSubject = c.filter_subject;
  if (c.max_deliver !== undefined && c.max_deliver > 0) config.maxDeliver = c.max_deliver;
  return {
    config,
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    lastDelivered: info.delivered.stream_seq,
    ackFloor: info.ack_floor.stream_seq,
    created: new Date(info.created).toISOString(),
  };
}

/** Headers in the NATS client's form, or undefined when there are none. */
export function toHeaders(headers: MessageHeaders | undefined): MsgHdrs | undefined {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return undefined;
  const h = natsHeaders();
  for (const [name, value] of entries) h.set(name, value);
  return h;
}

/** Headers from the NATS client's form (several values joined with ", "). */
export function fromHeaders(headers: MsgHdrs | undefined): MessageHeaders {
  const out: MessageHeaders = {};
  if (!headers) return out;
  for (const name of headers.keys()) out[name] = headers.values(name).join(", ");
  return out;
}

/** What a `$JS.ACK...` reply subject says about a delivery. */
export interface AckSubject {
  stream: string;
  consumer: string;
  deliveries: number;
  seq: number;
  /** Epoch milliseconds the message was stored. */
  time: number;
}

/**
 * Parses a JetStream ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`,
 * or the newer form with domain and account hash after `ACK` (and a random token at the end).
 */
export function parseAckSubject(subject: string): AckSubject | undefined {
  const t = subject.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  const at = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (at < 0) return undefined;
  const [stream, consumer, delivered, seq, , ts] = t.slice(at, at + 6);
  const numbers = [delivered, seq, ts].map(Number);
  if (!stream || !consumer || numbers.some((n) => !Number.isFinite(n) || n < 0)) return undefined;
  return {
    stream,
    consumer,
    deliveries: numbers[0]!,
    seq: numbers[1]!,
    time: Math.floor(numbers[2]! / NS),
  };
}

/** Which kind of object an operation was about, to name the right conflict or invalid code. */
export type Subject = "stream" | "consumer" | "publish" | "other";

const CONFLICTS: Record<number, MessagingErrorCode> = {
  10058: "messaging.stream_conflict", // stream name in use with a different configuration
  10065: "messaging.stream_conflict", // subjects overlap with an existing stream
  10084: "messaging.consumer_conflict", // work queues need explicit acks
  10099: "messaging.consumer_conflict", // several unfiltered consumers on a work queue
  10100: "messaging.consumer_conflict", // overlapping filters on a work queue
  10148: "messaging.consumer_conflict", // consumer exists with another config
  10014: "messaging.consumer_not_found",
  10059: "messaging.stream_not_found",
  10047: "messaging.storage_full", // insufficient resources
  10023: "messaging.storage_full",
};

/** Turns anything the NATS client threw into an error from the messaging table. */
export function natsError(error: unknown, about: Subject, action: string): EdgeboxError {
  if (error instanceof EdgeboxError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const detail = `${action}: ${reason}`;
  if (error instanceof JetStreamApiError) {
    const code = CONFLICTS[error.code];
    if (code) return messagingError(code, { detail, cause: error });
    if (error.status === 503 || error.code === 10039) {
      return messagingError.unavailable(detail, error);
    }
    if (error.status === 400 || error.code === 10052) {
      const invalid = about === "consumer"
        ? "messaging.consumer_invalid"
        : "messaging.stream_invalid";
      return messagingError(invalid, { detail, cause: error });
    }
    return messagingError("messaging.backend_error", { detail, cause: error });
  }
  // The client reports "no responders" on a JetStream subject as JetStream being off; for a
  // publish on a live connection it means no stream captures the subject.
  const jsOff = error instanceof Error && error.name === "JetStreamNotEnabled";
  if (jsOff && about === "publish") {
    return messagingError("messaging.no_stream", { detail, cause: error });
  }
  if (error instanceof errors.TimeoutError) {
    return messagingError("messaging.timeout", {
      detail,
      headers: { "Retry-After": "1" },
      cause: error,
    });
  }
  if (
    error instanceof errors.ConnectionError || error instanceof errors.ClosedConnectionError ||
    error instanceof errors.DrainingConnectionError || jsOff
  ) {
    return messagingError.unavailable(detail, error);
  }
  if (error instanceof errors.InvalidArgumentError && /max_payload/.test(reason)) {
    return messagingError("messaging.payload_too_large", { detail, field: "body", cause: error });
  }
  if (error instanceof errors.InvalidSubjectError) {
    return messagingError("messaging.subject_invalid", { detail, cause: error });
  }
  return messagingError("messaging.backend_error", { detail, cause: error });
}

/** True when a request found nobody subscribed to its subject. */
export function isNoResponders(error: unknown): boolean {
  return error instanceof errors.NoRespondersError ||
    (error instanceof Error && error.cause instanceof errors.NoRespondersError);
}
