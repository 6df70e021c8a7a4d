/**
 * The embedded messaging backend: an in-process broker with JetStream's semantics (streams with
 * limits, interest and workqueue retention, age/count/byte limits, a duplicate window, durable
 * pull consumers with ack wait, max deliveries, nak delays, term and working), so the API and the
 * contract suite are the same as on NATS. Every change goes through one {@linkcode BrokerEvent};
 * given a {@linkcode BrokerJournal} the broker records them and replays them on first connect,
 * which is how a durable embedded backend plugs in.
 */
import { EdgeboxError } from "../../core/errors.ts";
import type { HealthReport } from "../../core/plugin.ts";
import { AckTokens } from "./ack_token.ts";
import type {
  AckAction,
  AckOptions,
  ConsumerInfo,
  ConsumerPage,
  ConsumerSpec,
  DeliveredMessage,
  DeliverPolicy,
  FetchOptions,
  MessageHeaders,
  MessagingDriver,
  MessagingFeature,
  OutgoingMessage,
  Page,
  PubAck,
  PublishOptions,
  ReplyMessage,
  RequestHandler,
  Responder,
  StreamInfo,
  StreamPage,
  StreamSpec,
  SubscribeOptions,
  Subscription,
} from "./driver.ts";
import { messagingError } from "./errors.ts";
import type { BrokerEvent, BrokerJournal } from "./journal.ts";
import { namePage } from "./name_page.ts";
import { messageSize, payloadSize } from "./payload.ts";
import { resolveStreamSpec } from "./streams.ts";
import { filtersOverlap, filterSubsumes, subjectMatches } from "./subjects.ts";
import {
  BrokerState,
  consumerInfo,
  firstSeq,
  lastMatching,
  type MemoryConsumer,
  type MemoryMessage,
  type MemoryStream,
  streamInfo,
  toStored,
  waitForChange,
} from "./memory_state.ts";
import { MemorySubscription } from "./memory_subscription.ts";

/** Options of {@linkcode MemoryMessaging}. */
export interface MemoryMessagingOptions {
  /** The plugin instance name: ack tokens are bound to it. */
  scope: string;
  /** Shared secret for ack tokens (random per process when omitted). */
  ackSecret?: string;
  /** Largest message (payload plus headers) accepted, in bytes. */
  maxPayload: number;
  /** Bytes all streams together may hold; a publish past it is refused (507). */
  maxTotalBytes: number;
  /** Created or updated at every connect. */
  streams?: readonly StreamSpec[];
  /** Created or updated at every connect, after the streams. */
  consumers?: readonly ConsumerSpec[];
  /** Records every change and replays it on first connect (a durable backend's hook). */
  journal?: BrokerJournal;
}

/** The in-process broker. */
export class MemoryMessaging implements MessagingDriver {
  readonly backend = "memory";
  readonly features: ReadonlySet<MessagingFeature>;
  readonly #options: MemoryMessagingOptions;
  readonly #tokens: AckTokens;
  readonly #state = new BrokerState();
  readonly #responders = new Map<number, { subject: string; handler: RequestHandler }>();
  readonly #subscriptions = new Set<MemorySubscription>();
  #nextResponder = 0;
  #connected = false;
  #replayed = false;

  constructor(options: MemoryMessagingOptions) {
    this.#options = options;
    this.#tokens = new AckTokens(options.scope, options.ackSecret);
    this.features = new Set<MessagingFeature>(options.journal ? ["persistence"] : []);
  }

  async connect(): Promise<void> {
    if (this.#connected) return;
    if (!this.#replayed) {
      for (const event of this.#options.journal?.replay() ?? []) this.#state.apply(event);
      this.#replayed = true;
    }
    this.#connected = true;
    try {
      for (const spec of this.#options.streams ?? []) await this.putStream(spec);
      for (const spec of this.#options.consumers ?? []) await this.putConsumer(spec);
    } catch (error) {
      this.#connected = false;
      throw error;
    }
  }

  ping(): HealthReport {
    return this.#connected ? { status: "ready" } : { status: "down", detail: "broker stopped" };
  }

  maxPayload(): number {
    return this.#options.maxPayload;
  }

  async publish(
    subject: string,
    message: OutgoingMessage,
    options: PublishOptions = {},
  ): Promise<PubAck> {
    this.#assertConnected();
    const headers: MessageHeaders = { ...message.headers };
    if (options.msgId !== undefined) headers["Nats-Msg-Id"] = options.msgId;
    if (payloadSize(headers, message.data) > this.#options.maxPayload) {
      throw messagingError("messaging.payload_too_large", {
        detail:
          `Cannot publish to "${subject}": the message exceeds ${this.#options.maxPayload} bytes`,
        field: "body",
        extra: { limit: this.#options.maxPayload },
      });
    }
    const stream = this.#streamCapturing(subject);
    const now = Date.now();
    this.#enforceLimits(stream, now);
    if (options.msgId !== undefined) {
      const seen = stream.dedup.get(options.msgId);
      if (seen) return { stream: stream.settings.name, seq: seen.seq, duplicate: true };
    }
    const size = messageSize(subject, headers, message.data);
    if (this.#state.totalBytes + size > this.#options.maxTotalBytes) {
      throw messagingError("messaging.storage_full", {
        detail:
          `Cannot publish to "${subject}": the broker holds its maximum of ${this.#options.maxTotalBytes} bytes`,
      });
    }
    const seq = stream.lastSeq + 1;
    const event: BrokerEvent = {
      type: "message.append",
      stream: stream.settings.name,
      seq,
      subject,
      time: now,
      headers,
      data: message.data.slice(),
    };
    if (options.msgId !== undefined) event.msgId = options.msgId;
    this.#emit(event);
    this.#enforceLimits(stream, now);
    this.#releaseIfSettled(stream, seq);
    this.#wake(stream);
    await this.#flush();
    return { stream: stream.settings.name, seq, duplicate: false };
  }

  subscribe(filter: string, options: SubscribeOptions): Promise<Subscription> {
    return settle(() => this.#subscribe(filter, options));
  }

  #subscribe(filter: string, options: SubscribeOptions): Subscription {
    this.#assertConnected();
    const stream = this.#streamForFilter(filter);
    if (stream.settings.retention === "workqueue") {
      throw messagingError("messaging.consumer_conflict", {
        detail:
          `Cannot subscribe to "${filter}": stream "${stream.settings.name}" is a work queue; fetch from its consumer instead`,
      });
    }
    this.#enforceLimits(stream, Date.now());
    const subscription = new MemorySubscription({
      stream,
      filter,
      start: this.#startSeq(stream, filter, options.deliver),
      signal: options.signal,
      isCurrent: (s) => this.#connected && this.#state.streams.get(s.settings.name) === s,
      enforceLimits: (s) => this.#enforceLimits(s, Date.now()),
      onClose: (sub) => this.#subscriptions.delete(sub),
    });
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async request(subject: string, message: OutgoingMessage, timeout: number): Promise<ReplyMessage> {
    this.#assertConnected();
    const candidates = [...this.#responders.values()].filter((r) =>
      subjectMatches(r.subject, subject)
    );
    if (candidates.length === 0) {
      throw messagingError("messaging.no_responders", {
        detail: `Nobody answers requests on "${subject}"`,
        headers: { "Retry-After": "1" },
      });
    }
    const responder = candidates[Math.floor(Math.random() * candidates.length)]!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(messagingError("messaging.request_timeout", {
          detail: `No reply on "${subject}" within ${timeout}ms`,
        }));
      }, timeout);
    });
    try {
      const reply = await Promise.race([
        Promise.resolve().then(() =>
          responder.handler({
            subject,
            data: message.data.slice(),
            headers: { ...message.headers },
          })
        ),
        expired,
      ]);
      return { data: reply.data, headers: { ...reply.headers } };
    } catch (error) {
      if (error instanceof EdgeboxError) throw error;
      // A responder that fails sends no reply, as on NATS.
      throw messagingError("messaging.request_timeout", {
        detail: `No reply on "${subject}": the responder failed`,
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  respond(subject: string, handler: RequestHandler): Promise<Responder> {
    return settle(() => {
      this.#assertConnected();
      const id = this.#nextResponder++;
      this.#responders.set(id, { subject, handler });
      return {
        close: () => {
          this.#responders.delete(id);
          return Promise.resolve();
        },
      };
    });
  }

  listStreams(page: Page): Promise<StreamPage> {
    return settle(() => {
      this.#assertConnected();
      const { items, more } = namePage(this.#state.streams.keys(), (name) => name, page);
      const streams = items.map((name) => this.#streamInfo(this.#state.streams.get(name)!));
      return { streams, more };
    });
  }

  streamInfo(name: string): Promise<StreamInfo> {
    return settle(() => {
      this.#assertConnected();
      return this.#streamInfo(this.#stream(name));
    });
  }

  async putStream(spec: StreamSpec): Promise<{ info: StreamInfo; created: boolean }> {
    this.#assertConnected();
    const settings = resolveStreamSpec(spec);
    for (const other of this.#state.streams.values()) {
      if (other.settings.name === settings.name) continue;
      const clash = settings.subjects.find((a) =>
        other.settings.subjects.some((b) => filtersOverlap(a, b))
      );
      if (clash !== undefined) {
        throw messagingError("messaging.stream_conflict", {
          detail:
            `Cannot configure stream "${settings.name}": subject "${clash}" overlaps stream "${other.settings.name}"`,
          field: "subjects",
        });
      }
    }
    const existing = this.#state.streams.get(settings.name);
    if (existing) {
      for (const field of ["retention", "storage"] as const) {
        if (existing.settings[field] !== settings[field]) {
          throw messagingError("messaging.stream_conflict", {
            detail: `Cannot update stream "${settings.name}": ${field} cannot change`,
            field,
          });
        }
      }
    }
    this.#emit({ type: "stream.put", settings, created: existing?.created ?? Date.now() });
    const stream = this.#state.streams.get(settings.name)!;
    this.#enforceLimits(stream, Date.now());
    await this.#flush();
    return { info: this.#streamInfo(stream), created: existing === undefined };
  }

  async deleteStream(name: string): Promise<void> {
    this.#assertConnected();
    const stream = this.#stream(name);
    this.#emit({ type: "stream.delete", stream: name });
    this.#wake(stream);
    await this.#flush();
  }

  listConsumers(stream: string, page: Page): Promise<ConsumerPage> {
    return settle(() => {
      this.#assertConnected();
      const s = this.#stream(stream);
      const { items, more } = namePage(s.consumers.keys(), (name) => name, page);
      return { consumers: items.map((name) => consumerInfo(s, s.consumers.get(name)!)), more };
    });
  }

  consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
    return settle(() => {
      this.#assertConnected();
      const s = this.#stream(stream);
      return consumerInfo(s, this.#consumer(s, name));
    });
  }

  async putConsumer(spec: ConsumerSpec): Promise<{ info: ConsumerInfo; created: boolean }> {
    this.#assertConnected();
    const stream = this.#stream(spec.stream);
    const filter = spec.filterSubject;
    if (filter !== undefined && !stream.settings.subjects.some((s) => filterSubsumes(s, filter))) {
      throw messagingError("messaging.consumer_invalid", {
        detail:
          `Cannot configure consumer "${spec.name}": filterSubject "${filter}" is not within the subjects of stream "${spec.stream}"`,
        field: "filterSubject",
      });
    }
    if (stream.settings.retention === "workqueue") {
      for (const other of stream.consumers.values()) {
        if (other.spec.name === spec.name) continue;
        if (filtersOverlap(filter ?? ">", other.spec.filterSubject ?? ">")) {
          throw messagingError("messaging.consumer_conflict", {
            detail:
              `Cannot configure consumer "${spec.name}": its filter overlaps consumer "${other.spec.name}" on work queue "${spec.stream}"`,
            field: "filterSubject",
          });
        }
      }
    }
    const existing = stream.consumers.get(spec.name);
    if (existing && existing.spec.deliver !== spec.deliver) {
      throw messagingError("messaging.consumer_conflict", {
        detail: `Cannot update consumer "${spec.name}": deliver cannot change`,
        field: "deliver",
      });
    }
    const nextSeq = existing?.nextSeq ?? this.#consumerStart(stream, spec);
    this.#emit({
      type: "consumer.put",
      spec: { ...spec },
      created: existing?.created ?? Date.now(),
      nextSeq,
    });
    this.#wake(stream);
    await this.#flush();
    return {
      info: consumerInfo(stream, stream.consumers.get(spec.name)!),
      created: existing === undefined,
    };
  }

  async deleteConsumer(stream: string, name: string): Promise<void> {
    this.#assertConnected();
    const s = this.#stream(stream);
    this.#consumer(s, name);
    this.#emit({ type: "consumer.delete", stream, consumer: name });
    for (const seq of [...s.messages.keys()]) this.#releaseIfSettled(s, seq);
    this.#wake(s);
    await this.#flush();
  }

  async fetch(
    stream: string,
    consumer: string,
    options: FetchOptions,
  ): Promise<DeliveredMessage[]> {
    this.#assertConnected();
    const deadline = Date.now() + options.wait;
    for (;;) {
      const s = this.#stream(stream);
      const c = this.#consumer(s, consumer);
      const taken = this.#take(s, c, options.batch);
      if (taken.length > 0) {
        await this.#flush();
        return taken;
      }
      const now = Date.now();
      if (now >= deadline || options.signal?.aborted || !this.#connected) return [];
      let wakeAt = deadline;
      for (const delivery of c.pending.values()) wakeAt = Math.min(wakeAt, delivery.due);
      await this.#waitOn(s, Math.max(0, wakeAt - now), options.signal);
      if (!this.#connected) return [];
    }
  }

  async ack(token: string, action: AckAction, options: AckOptions = {}): Promise<void> {
    this.#assertConnected();
    const target = this.#openToken(token);
    const stream = this.#stream(target.stream);
    const consumer = this.#consumer(stream, target.consumer);
    const delivery = consumer.pending.get(target.seq);
    if (!delivery) return; // Already settled (or gone): acking again changes nothing.
    const ref = { stream: target.stream, consumer: target.consumer, seq: target.seq };
    const now = Date.now();
    switch (action) {
      case "ack":
      case "term":
        this.#emit({ type: "consumer.settle", ...ref });
        this.#releaseIfSettled(stream, target.seq);
        break;
      case "nak":
        // A stale token (the message went out again since) must not pull the new delivery forward.
        if (delivery.deliveries !== target.deliveries) return;
        this.#emit({ type: "consumer.due", ...ref, due: now + (options.delay ?? 0) });
        this.#wake(stream);
        break;
      case "working":
        if (delivery.deliveries !== target.deliveries) return;
        this.#emit({ type: "consumer.due", ...ref, due: now + consumer.spec.ackWait });
        break;
    }
    await this.#flush();
  }

  async close(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    for (const stream of this.#state.streams.values()) this.#wake(stream);
    await this.#flush();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- state changes: every one goes through #emit, so a journal sees all of them ---

  #emit(event: BrokerEvent): void {
    this.#state.apply(event);
    this.#options.journal?.append(event);
  }

  async #flush(): Promise<void> {
    await this.#options.journal?.flush();
  }

  // --- delivery ---

  /** Takes up to `max` messages for a consumer: due redeliveries first, then new ones. */
  #take(stream: MemoryStream, consumer: MemoryConsumer, max: number): DeliveredMessage[] {
    const now = Date.now();
    this.#enforceLimits(stream, now);
    const name = stream.settings.name;
    const { ackWait, maxDeliver, maxAckPending, filterSubject } = consumer.spec;
    const taken: DeliveredMessage[] = [];
    for (const [seq, delivery] of [...consumer.pending]) {
      if (taken.length >= max) break;
      if (delivery.due > now) continue;
      const ref = { stream: name, consumer: consumer.spec.name, seq };
      if (maxDeliver !== undefined && delivery.deliveries >= maxDeliver) {
        this.#emit({ type: "consumer.exhaust", ...ref });
        continue;
      }
      const deliveries = delivery.deliveries + 1;
      this.#emit({ type: "consumer.deliver", ...ref, deliveries, due: now + ackWait });
      taken.push(this.#delivered(stream, consumer, stream.messages.get(seq)!, deliveries));
    }
    let seq = Math.max(consumer.nextSeq, firstSeq(stream));
    for (; seq <= stream.lastSeq; seq++) {
      if (taken.length >= max || consumer.pending.size >= maxAckPending) break;
      const message = stream.messages.get(seq);
      if (!message || (filterSubject && !subjectMatches(filterSubject, message.subject))) continue;
      this.#emit({
        type: "consumer.deliver",
        stream: name,
        consumer: consumer.spec.name,
        seq,
        deliveries: 1,
        due: now + ackWait,
      });
      taken.push(this.#delivered(stream, consumer, message, 1));
    }
    // Every sequence below `seq` was delivered or skipped (filtered out, removed): a derived
    // cursor, so it needs no event; a replayed broker merely scans those again.
    consumer.nextSeq = Math.max(consumer.nextSeq, seq);
    return taken;
  }

  #delivered(
    stream: MemoryStream,
    consumer: MemoryConsumer,
    message: MemoryMessage,
    deliveries: number,
  ): DeliveredMessage {
    const name = stream.settings.name;
    return {
      ...toStored(name, message),
      deliveries,
      token: this.#tokens.seal(
        JSON.stringify([name, consumer.spec.name, message.seq, deliveries]),
      ),
    };
  }

  #openToken(token: string): { stream: string; consumer: string; seq: number; deliveries: number } {
    const payload = this.#tokens.open(token);
    let parsed: unknown;
    try {
      parsed = payload === undefined ? undefined : JSON.parse(payload);
    } catch {
      parsed = undefined;
    }
    if (
      !Array.isArray(parsed) || parsed.length !== 4 || typeof parsed[0] !== "string" ||
      typeof parsed[1] !== "string" || !Number.isInteger(parsed[2]) ||
      !Number.isInteger(parsed[3])
    ) {
      throw messagingError("messaging.token_invalid", {
        detail: "The ack token was not issued by this messaging instance",
        field: "body.token",
      });
    }
    return { stream: parsed[0], consumer: parsed[1], seq: parsed[2], deliveries: parsed[3] };
  }

  /** Removes a message from an interest or workqueue stream once every interested consumer settled it. */
  #releaseIfSettled(stream: MemoryStream, seq: number): void {
    const { retention } = stream.settings;
    if (retention === "limits") return;
    const message = stream.messages.get(seq);
    if (!message) return;
    let interested = 0;
    for (const consumer of stream.consumers.values()) {
      const filter = consumer.spec.filterSubject;
      if (filter && !subjectMatches(filter, message.subject)) continue;
      interested++;
      const settled = seq < consumer.nextSeq && !consumer.pending.has(seq) &&
        !consumer.exhausted.has(seq);
      if (!settled) return;
    }
    // A work queue keeps work nobody consumes yet; an interest stream keeps nothing nobody wants.
    if (interested === 0 && retention === "workqueue") return;
    this.#emit({ type: "message.remove", stream: stream.settings.name, seq });
  }

  /** Drops what the stream's limits no longer allow (oldest first) and expired idempotency keys. */
  #enforceLimits(stream: MemoryStream, now: number): void {
    const { maxMsgs, maxBytes, maxAge, duplicateWindow } = stream.settings;
    const name = stream.settings.name;
    for (const message of stream.messages.values()) {
      const over = (maxMsgs !== undefined && stream.messages.size > maxMsgs) ||
        (maxBytes !== undefined && stream.bytes > maxBytes) ||
        (maxAge !== undefined && message.time <= now - maxAge);
      if (!over) break;
      this.#emit({ type: "message.remove", stream: name, seq: message.seq });
    }
    for (const [id, seen] of stream.dedup) {
      if (seen.time > now - duplicateWindow) break;
      stream.dedup.delete(id);
    }
  }

  // --- lookups ---

  #assertConnected(): void {
    if (!this.#connected) throw messagingError.unavailable("The embedded broker is stopped");
  }

  #stream(name: string): MemoryStream {
    const stream = this.#state.streams.get(name);
    if (!stream) {
      throw messagingError("messaging.stream_not_found", {
        detail: `MemoryStream "${name}" does not exist`,
      });
    }
    return stream;
  }

  #consumer(stream: MemoryStream, name: string): MemoryConsumer {
    const consumer = stream.consumers.get(name);
    if (!consumer) {
      throw messagingError("messaging.consumer_not_found", {
        detail: `MemoryConsumer "${name}" does not exist on stream "${stream.settings.name}"`,
      });
    }
    return consumer;
  }

  #streamCapturing(subject: string): MemoryStream {
    for (const stream of this.#state.streams.values()) {
      if (stream.settings.subjects.some((s) => subjectMatches(s, subject))) return stream;
    }
    throw messagingError("messaging.no_stream", {
      detail: `No stream captures subject "${subject}"`,
    });
  }

  #streamForFilter(filter: string): MemoryStream {
    const found = [...this.#state.streams.values()].filter((s) =>
      s.settings.subjects.some((subject) => filtersOverlap(subject, filter))
    );
    if (found.length === 0) {
      throw messagingError("messaging.no_stream", {
        detail: `No stream captures subject "${filter}"`,
      });
    }
    if (found.length > 1) {
      throw messagingError("messaging.subject_ambiguous", {
        detail: `Subject "${filter}" spans streams ${
          found.map((s) => `"${s.settings.name}"`).join(", ")
        }; subscribe to a narrower subject`,
        field: "path.subject",
      });
    }
    const stream = found[0]!;
    if (!stream.settings.subjects.some((subject) => filterSubsumes(subject, filter))) {
      throw messagingError("messaging.subject_invalid", {
        detail:
          `Subject "${filter}" is wider than the subjects of stream "${stream.settings.name}"`,
        field: "path.subject",
      });
    }
    return stream;
  }

  #consumerStart(stream: MemoryStream, spec: ConsumerSpec): number {
    switch (spec.deliver) {
      case "all":
        return firstSeq(stream);
      case "new":
        return stream.lastSeq + 1;
      case "last":
        return lastMatching(stream, spec.filterSubject) ?? stream.lastSeq + 1;
    }
  }

  #startSeq(stream: MemoryStream, filter: string, deliver: DeliverPolicy): number {
    switch (deliver.kind) {
      case "all":
        return firstSeq(stream);
      case "new":
        return stream.lastSeq + 1;
      case "last":
        return lastMatching(stream, filter) ?? stream.lastSeq + 1;
      case "seq":
        return deliver.seq;
      case "time": {
        const at = deliver.time.getTime();
        for (const message of stream.messages.values()) {
          if (message.time >= at) return message.seq;
        }
        return stream.lastSeq + 1;
      }
    }
  }

  /** The info of a stream, after dropping what its limits no longer allow. */
  #streamInfo(stream: MemoryStream): StreamInfo {
    this.#enforceLimits(stream, Date.now());
    return streamInfo(stream);
  }

  /** Resolves after `ms`, on any change to the stream, on abort or on close. */
  #waitOn(stream: MemoryStream, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return waitForChange(stream.listeners, ms, signal);
  }

  #wake(stream: MemoryStream): void {
    for (const listener of [...stream.listeners]) listener();
  }
}

MemoryMessaging satisfies new (options: MemoryMessagingOptions) => MessagingDriver;

/** Runs synchronous work as a promise, so its errors reject rather than throw. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
