/**
 * The memory broker's state and the one function that changes it: every change is a
 * {@linkcode BrokerEvent}, applied here, so a broker rebuilt from a journal is the same broker.
 * Also the read-only views of that state (first sequence, infos) and the wait for a change.
 */
import type {
  ConsumerInfo,
  ConsumerSpec,
  MessageHeaders,
  StoredMessage,
  StreamInfo,
  StreamSettings,
} from "./driver.ts";
import type { BrokerEvent } from "./journal.ts";
import { messageSize } from "./payload.ts";
import { subjectMatches } from "./subjects.ts";

/** A message as the broker keeps it. */
export interface MemoryMessage {
  seq: number;
  subject: string;
  time: number;
  headers: MessageHeaders;
  data: Uint8Array;
  size: number;
}

/** A delivery waiting for its ack. */
export interface Delivery {
  deliveries: number;
  /** When it is redelivered unless settled first (epoch ms). */
  due: number;
}

/** A stream: its settings, messages, idempotency keys and consumers. */
export interface MemoryStream {
  settings: StreamSettings;
  created: number;
  /** By sequence, in ascending order (appends only ever add a higher one). */
  messages: Map<number, MemoryMessage>;
  lastSeq: number;
  bytes: number;
  /** Idempotency key -> the original's sequence and time, oldest first. */
  dedup: Map<string, { seq: number; time: number }>;
  consumers: Map<string, MemoryConsumer>;
  /** Woken on every append, nak, delete or close. */
  listeners: Set<() => void>;
}

/** A durable consumer's cursor and pending deliveries. */
export interface MemoryConsumer {
  spec: ConsumerSpec;
  created: number;
  /** The next stream sequence considered for a first delivery. */
  nextSeq: number;
  lastDelivered: number;
  /** Delivered and not settled, by sequence, in ascending order. */
  pending: Map<number, Delivery>;
  /** Delivered `maxDeliver` times and never acked. */
  exhausted: Set<number>;
}

/** Every stream and what they hold together. */
export class BrokerState {
  readonly streams = new Map<string, MemoryStream>();
  /** Bytes of every stream together. */
  totalBytes = 0;

  /** Applies one change; replaying a journal applies the same ones in order. */
  apply(event: BrokerEvent): void {
    switch (event.type) {
      case "stream.put": {
        const existing = this.streams.get(event.settings.name);
        if (existing) existing.settings = event.settings;
        else {
          this.streams.set(event.settings.name, {
            settings: event.settings,
            created: event.created,
            messages: new Map(),
            lastSeq: event.lastSeq ?? 0,
            bytes: 0,
            dedup: new Map(),
            consumers: new Map(),
            listeners: new Set(),
          });
        }
        return;
      }
      case "stream.delete": {
        const stream = this.streams.get(event.stream);
        if (stream) this.totalBytes -= stream.bytes;
        this.streams.delete(event.stream);
        return;
      }
      case "message.append": {
        const stream = this.streams.get(event.stream)!;
        const size = messageSize(event.subject, event.headers, event.data);
        stream.messages.set(event.seq, {
          seq: event.seq,
          subject: event.subject,
          time: event.time,
          headers: event.headers,
          data: event.data,
          size,
        });
        // A restored stream may know a later sequence than its last kept message.
        stream.lastSeq = Math.max(stream.lastSeq, event.seq);
        stream.bytes += size;
        this.totalBytes += size;
        if (event.msgId !== undefined) {
          stream.dedup.set(event.msgId, { seq: event.seq, time: event.time });
        }
        return;
      }
      case "message.remove": {
        const stream = this.streams.get(event.stream)!;
        const message = stream.messages.get(event.seq);
        if (!message) return;
        stream.messages.delete(event.seq);
        stream.bytes -= message.size;
        this.totalBytes -= message.size;
        for (const consumer of stream.consumers.values()) {
          consumer.pending.delete(event.seq);
          consumer.exhausted.delete(event.seq);
        }
        return;
      }
      case "message.dedup":
        this.streams.get(event.stream)!.dedup.set(event.msgId, {
          seq: event.seq,
          time: event.time,
        });
        return;
      case "consumer.put": {
        const stream = this.streams.get(event.spec.stream)!;
        const existing = stream.consumers.get(event.spec.name);
        if (existing) existing.spec = event.spec;
        else {
          stream.consumers.set(event.spec.name, {
            spec: event.spec,
            created: event.created,
            nextSeq: event.nextSeq,
            lastDelivered: event.lastDelivered ?? 0,
            pending: new Map(),
            exhausted: new Set(),
          });
        }
        return;
      }
      case "consumer.delete":
        this.streams.get(event.stream)!.consumers.delete(event.consumer);
        return;
      case "consumer.deliver": {
        const consumer = this.streams.get(event.stream)!.consumers.get(event.consumer)!;
        consumer.pending.set(event.seq, { deliveries: event.deliveries, due: event.due });
        consumer.nextSeq = Math.max(consumer.nextSeq, event.seq + 1);
        consumer.lastDelivered = Math.max(consumer.lastDelivered, event.seq);
        return;
      }
      case "consumer.due": {
        const consumer = this.streams.get(event.stream)!.consumers.get(event.consumer)!;
        const delivery = consumer.pending.get(event.seq);
        if (delivery) delivery.due = event.due;
        return;
      }
      case "consumer.settle":
      case "consumer.exhaust": {
        const consumer = this.streams.get(event.stream)!.consumers.get(event.consumer)!;
        consumer.pending.delete(event.seq);
        if (event.type === "consumer.exhaust") consumer.exhausted.add(event.seq);
        return;
      }
    }
  }
}

/** The lowest sequence still kept, or the next one when the stream is empty. */
export function firstSeq(stream: MemoryStream): number {
  const first = stream.messages.keys().next();
  if (!first.done) return first.value;
  return stream.lastSeq + 1;
}

/** The sequence of the last message on a subject matching `filter`. */
export function lastMatching(
  stream: MemoryStream,
  filter: string | undefined,
): number | undefined {
  for (let seq = stream.lastSeq; seq >= firstSeq(stream); seq--) {
    const message = stream.messages.get(seq);
    if (message && (!filter || subjectMatches(filter, message.subject))) return seq;
  }
  return undefined;
}

/** A stream's settings and state, as the driver reports them. */
export function streamInfo(stream: MemoryStream): StreamInfo {
  const first = stream.messages.get(firstSeq(stream));
  const last = stream.messages.get(stream.lastSeq);
  const state: StreamInfo["state"] = {
    messages: stream.messages.size,
    bytes: stream.bytes,
    firstSeq: stream.lastSeq === 0 ? 0 : firstSeq(stream),
    lastSeq: stream.lastSeq,
    consumers: stream.consumers.size,
  };
  if (first) state.firstTime = new Date(first.time).toISOString();
  if (last) state.lastTime = new Date(last.time).toISOString();
  return {
    config: structuredClone(stream.settings),
    state,
    created: new Date(stream.created).toISOString(),
  };
}

/** A consumer's settings and progress. */
export function consumerInfo(stream: MemoryStream, consumer: MemoryConsumer): ConsumerInfo {
  const filter = consumer.spec.filterSubject;
  let pending = 0;
  for (
    let seq = Math.max(consumer.nextSeq, firstSeq(stream));
    seq <= stream.lastSeq;
    seq++
  ) {
    const message = stream.messages.get(seq);
    if (message && (!filter || subjectMatches(filter, message.subject))) pending++;
  }
  let redelivered = 0;
  for (const delivery of consumer.pending.values()) if (delivery.deliveries > 1) redelivered++;
  const firstPending = consumer.pending.keys().next();
  return {
    config: { ...consumer.spec },
    pending,
    ackPending: consumer.pending.size,
    redelivered,
    lastDelivered: consumer.lastDelivered,
    ackFloor: firstPending.done ? consumer.lastDelivered : firstPending.value - 1,
    created: new Date(consumer.created).toISOString(),
  };
}

/** A kept message as the driver hands it out (copied, so callers cannot change the store). */
export function toStored(stream: string, message: MemoryMessage): StoredMessage {
  return {
    stream,
    subject: message.subject,
    seq: message.seq,
    time: new Date(message.time),
    headers: { ...message.headers },
    data: message.data.slice(),
  };
}

/** Resolves after `ms`, when a listener in `listeners` is called, or on abort; always cleans up. */
export function waitForChange(
  listeners: Set<() => void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      listeners.delete(done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    listeners.add(done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
