/**
 * The NATS JetStream messaging backend, on the maintained v3 client (`@nats-io/transport-node`
 * and `@nats-io/jetstream`). The client reconnects by itself; while it is away the driver reports
 * `degraded` and refuses work with 503 at once instead of queueing it. Health is a round trip to
 * the server with a deadline, so a server that hangs (stopped, swapping, partitioned) without
 * closing the socket turns the instance degraded too. Fetches speak the pull
 * protocol directly so they can return as soon as one message is ready, and ack tokens seal the
 * delivery's `$JS.ACK...` reply subject so only genuine deliveries can be acted on.
 */
import {
  type ConsumerMessages,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  connect,
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/transport-node";
import { setImmediate } from "node:timers";
import type { Logger } from "../../core/log.ts";
import type { HealthReport } from "../../core/plugin.ts";
import { redactText } from "../../core/redact.ts";
import { withTimeout } from "../../core/timing.ts";
import { AckTokens } from "./ack_token.ts";
import type {
  AckAction,
  AckOptions,
  ConsumerInfo,
  ConsumerPage,
  ConsumerSpec,
  DeliveredMessage,
  FetchOptions,
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
import { hasCode, messagingError } from "./errors.ts";
import {
  fromConsumerInfo,
  fromHeaders,
  fromStreamInfo,
  isNoResponders,
  nanos,
  natsError,
  parseAckSubject,
  toConsumerConfig,
  toHeaders,
  toStreamConfig,
} from "./nats_convert.ts";
import { namePage } from "./name_page.ts";
import { payloadSize } from "./payload.ts";
import { resolveStreamSpec } from "./streams.ts";
import { filterSubsumes, NAME_PATTERN } from "./subjects.ts";
import { AckWaiters } from "./nats_acks.ts";
import { PullFetcher } from "./nats_pull.ts";
import { NatsLiveSubscription, orderedStart } from "./nats_subscription.ts";

/** Options of {@linkcode NatsMessaging}. */
export interface NatsMessagingOptions {
  /** The plugin instance name: ack tokens are bound to it. */
  scope: string;
  /** Shared secret for ack tokens (random per process when omitted). */
  ackSecret?: string;
  /** One server URL, or several separated by commas. */
  url: string;
  token?: string;
  user?: string;
  password?: string;
  /** Path of a `.creds` file (JWT and seed). */
  creds?: string;
  /** Connection name shown in the server's monitoring. */
  name?: string;
  /** Bound on connecting, in milliseconds. */
  connectTimeout: number;
  /** Bound on every JetStream API call, publish ack and ack confirmation, in milliseconds. */
  apiTimeout: number;
  /** Largest message accepted (payload plus headers); never above the server's max_payload. */
  maxPayload: number;
  /** Created or updated at every connect. */
  streams?: readonly StreamSpec[];
  /** Created or updated at every connect, after the streams. */
  consumers?: readonly ConsumerSpec[];
  /** Where background failures (re-provisioning after a reconnect) are reported. */
  log?: Logger;
}

/** A PING sent to the server, answered (`settled`) by its PONG or by losing the connection. */
interface RoundTrip {
  nc: NatsConnection;
  /** performance.now() when it was sent (or since when the server has been silent). */
  sent: number;
  settled: boolean;
  /** Resolves on the PONG; rejects when the connection is lost first. */
  answered: Promise<void>;
}

/**
 * The client's reconnect policy. A refused TCP connect costs nothing, so the client tries every
 * quarter second (plus up to 100ms of jitter, so replicas spread out): a server that comes back
 * is used within about 350ms. Pings every 10s (the client's default is 2 minutes) notice a dead
 * socket that never closed after two unanswered ones, and reconnect.
 */
const RECONNECT = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 100,
  pingInterval: 10_000,
  maxPingOut: 2,
} as const;

/** Longest a health probe's round trip may take before the server counts as not answering. */
const PING_DEADLINE = 2_000;

interface Connection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pulls: PullFetcher;
  /** Publishes awaiting their stream's ack. */
  acks: AckWaiters;
  /** Ends when the connection closes. */
  watching: Promise<void>;
}

const ACK_BODIES: Record<Exclude<AckAction, "nak">, string> = {
  ack: "+ACK",
  term: "+TERM",
  working: "+WPI",
};

/** The NATS JetStream driver. */
export class NatsMessaging implements MessagingDriver {
  readonly backend = "nats";
  readonly features: ReadonlySet<MessagingFeature> = new Set<MessagingFeature>(["persistence"]);
  readonly #options: NatsMessagingOptions;
  readonly #tokens: AckTokens;
  readonly #subscriptions = new Set<NatsLiveSubscription>();
  /** Publishes waiting for their acks now. */
  #publishing = 0;
  /** Publishes waiting to leave with the next batch. */
  #batch: Array<() => void> = [];
  #connection: Connection | undefined;
  #connecting: Promise<void> | undefined;
  #online = false;
  #provisioned = false;
  #lastError: string | undefined;
  /** The latest health round trip (see {@linkcode ping}). */
  #roundTrip: RoundTrip | undefined;
  /** Why the latest settled round trip failed, while it stands. */
  #unanswered: string | undefined;
  /** Connects waiting for the client to be back; called on reconnect and on close. */
  readonly #onBack = new Set<() => void>();
  /** The provisioning under way, shared by the reconnect watcher and `connect`. */
  #provisioning: Promise<void> | undefined;
  /** The server URL(s) as messages show them: userinfo and tokens hidden. */
  readonly #where: string;

  constructor(options: NatsMessagingOptions) {
    this.#options = options;
    this.#where = redactText(options.url);
    this.#tokens = new AckTokens(options.scope, options.ackSecret);
  }

  /**
   * Connects and creates the configured streams and consumers. On a connection the client is
   * still reconnecting, or whose server does not answer, it waits (at most `connectTimeout`, and
   * never past `signal`) for the server to be back and answer a ping: the core retries `start`
   * while the instance is degraded, so its recovery follows the client's instead of waiting out
   * the core's backoff.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    const current = this.#connection;
    if (current && !current.nc.isClosed()) {
      await this.#serverBack(current, signal);
      if (!this.#provisioned) await this.#provision(current);
      return;
    }
    this.#connecting ??= this.#open().finally(() => this.#connecting = undefined);
    await this.#connecting;
  }

  /**
   * Health from the client's state and a round trip to the server: each probe sends a PING
   * unless one is still out, and reports `degraded` once one has gone unanswered for longer than
   * the deadline (2s, or `apiTimeout` when shorter). The socket alone cannot tell: a hung server
   * keeps it open. Synchronous, like every messaging driver's probe, so a hung server shows at
   * the second probe after it hung at the latest (at the first when a call timed out meanwhile,
   * since a timeout sends a PING too).
   */
  ping(): HealthReport {
    const current = this.#connection;
    if (!current || current.nc.isClosed()) {
      return { status: "down", detail: this.#lastError ?? "not connected to NATS" };
    }
    if (!this.#online) {
      return { status: "degraded", detail: "disconnected from NATS; reconnecting" };
    }
    const trip = this.#sendPing(current.nc);
    const waited = performance.now() - trip.sent;
    if (!trip.settled && waited > this.#pingDeadline()) {
      return {
        status: "degraded",
        detail: `NATS at ${this.#where} has not answered a ping for ${Math.round(waited)}ms`,
      };
    }
    if (this.#unanswered !== undefined) return { status: "degraded", detail: this.#unanswered };
    if (!this.#provisioned) {
      return { status: "degraded", detail: this.#lastError ?? "creating streams and consumers" };
    }
    return { status: "ready" };
  }

  maxPayload(): number {
    const server = this.#connection?.nc.info?.max_payload;
    return server === undefined
      ? this.#options.maxPayload
      : Math.min(server, this.#options.maxPayload);
  }

  async publish(
    subject: string,
    message: OutgoingMessage,
    options: PublishOptions = {},
  ): Promise<PubAck> {
    const { acks } = this.#live();
    const limit = this.maxPayload();
    const headers = options.msgId === undefined
      ? message.headers
      : { ...message.headers, "Nats-Msg-Id": options.msgId };
    if (payloadSize(headers, message.data) > limit) {
      throw messagingError("messaging.payload_too_large", {
        detail: `Cannot publish to "${subject}": the message exceeds ${limit} bytes`,
        field: "body",
        extra: { limit },
      });
    }
    // Under load, join the next batch so many publishes leave in one socket write.
    if (this.#publishing > 0) await this.#nextBatch();
    this.#publishing++;
    try {
      return await acks.publish(subject, message.data, toHeaders(headers));
    } catch (error) {
      const failure = natsError(error, "publish", `Cannot publish to "${subject}"`);
      // The server said nothing for apiTimeout: a PING tells a hung server (no PONG either,
      // and the next probe reports it) from a slow stream (the PONG comes back at once).
      if (failure.code === "messaging.timeout") {
        this.#sendPing(this.#connection?.nc, performance.now() - this.#options.apiTimeout);
      }
      throw failure;
    } finally {
      this.#publishing--;
    }
  }

  /**
   * Resolves on the next macrotask, together with every publish that queued meanwhile. The
   * client flushes its socket once per microtask checkpoint, and each HTTP request runs in a
   * task of its own: without this, every publish costs a write system call of its own, which is
   * most of a publish's CPU time. An idle driver never waits here (Nagle's idea, adaptive).
   */
  #nextBatch(): Promise<void> {
    return new Promise((resolve) => {
      this.#batch.push(resolve);
      if (this.#batch.length > 1) return;
      // setImmediate, not setTimeout(0): a timeout set from a timer's callback, as a publish
      // continuing after the previous batch is, gets clamped to 4 ms after a few levels of
      // nesting, and every publish under load would wait that long.
      setImmediate(() => {
        const batch = this.#batch;
        this.#batch = [];
        for (const release of batch) release();
      });
    });
  }

  async subscribe(filter: string, options: SubscribeOptions): Promise<Subscription> {
    const { js } = this.#live();
    const info = await this.#streamForFilter(filter);
    const stream = info.config.name;
    let messages: ConsumerMessages;
    try {
      const consumer = await js.consumers.get(stream, {
        filter_subjects: [filter],
        ...orderedStart(options.deliver),
      });
      messages = await consumer.consume({ max_messages: 256 });
    } catch (error) {
      throw natsError(error, "consumer", `Cannot subscribe to "${filter}"`);
    }
    const subscription = new NatsLiveSubscription(
      stream,
      messages,
      options.signal,
      (sub) => this.#subscriptions.delete(sub),
      () =>
        this.streamInfo(stream).then(
          () => false,
          (error) => hasCode(error, "messaging.stream_not_found"),
        ),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async request(subject: string, message: OutgoingMessage, timeout: number): Promise<ReplyMessage> {
    const { nc } = this.#live();
    try {
      const headers = toHeaders(message.headers);
      const reply = await nc.request(subject, message.data, {
        timeout,
        ...(headers ? { headers } : {}),
      });
      return { data: reply.data, headers: fromHeaders(reply.headers) };
    } catch (error) {
      if (isNoResponders(error)) {
        throw messagingError("messaging.no_responders", {
          detail: `Nobody answers requests on "${subject}"`,
          headers: { "Retry-After": "1" },
          cause: error,
        });
      }
      if (error instanceof Error && error.name === "TimeoutError") {
        throw messagingError("messaging.request_timeout", {
          detail: `No reply on "${subject}" within ${timeout}ms`,
          cause: error,
        });
      }
      throw natsError(error, "other", `Cannot send a request to "${subject}"`);
    }
  }

  async respond(subject: string, handler: RequestHandler): Promise<Responder> {
    const { nc } = this.#live();
    const sub = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        Promise.resolve()
          .then(() =>
            handler({ subject: msg.subject, data: msg.data, headers: fromHeaders(msg.headers) })
          )
          .then((reply) => {
            const headers = toHeaders(reply.headers);
            msg.respond(reply.data, headers ? { headers } : undefined);
          })
          .catch((cause) => {
            // A failing responder sends nothing; the requester times out, as with any NATS service.
            this.#options.log?.warn("request handler failed", { subject, error: String(cause) });
          });
      },
    });
    await nc.flush();
    return {
      close: async () => {
        if (!sub.isClosed()) await sub.drain().catch(() => sub.unsubscribe());
      },
    };
  }

  async listStreams(page: Page): Promise<StreamPage> {
    const { jsm } = this.#live();
    try {
      // JetStream lists by offset and in no promised order: read the names, then the page.
      const all: StreamInfo[] = [];
      for await (const info of jsm.streams.list()) all.push(fromStreamInfo(info));
      const { items, more } = namePage(all, (info) => info.config.name, page);
      return { streams: items, more };
    } catch (error) {
      throw natsError(error, "stream", "Cannot list streams");
    }
  }

  async streamInfo(name: string): Promise<StreamInfo> {
    const { jsm } = this.#live();
    assertName(name, "stream");
    try {
      return fromStreamInfo(await jsm.streams.info(name));
    } catch (error) {
      throw natsError(error, "stream", `Cannot read stream "${name}"`);
    }
  }

  async putStream(spec: StreamSpec): Promise<{ info: StreamInfo; created: boolean }> {
    const connection = this.#live();
    return await this.#putStream(connection, spec);
  }

  async deleteStream(name: string): Promise<void> {
    const { jsm } = this.#live();
    assertName(name, "stream");
    try {
      await jsm.streams.delete(name);
    } catch (error) {
      throw natsError(error, "stream", `Cannot delete stream "${name}"`);
    }
  }

  async listConsumers(stream: string, page: Page): Promise<ConsumerPage> {
    const { jsm } = this.#live();
    assertName(stream, "stream");
    try {
      const all: ConsumerInfo[] = [];
      for await (const info of jsm.consumers.list(stream)) {
        // Subscriptions' ordered consumers are ephemeral plumbing, not the user's.
        if (info.config.durable_name) all.push(fromConsumerInfo(info));
      }
      const { items, more } = namePage(all, (info) => info.config.name, page);
      return { consumers: items, more };
    } catch (error) {
      throw natsError(error, "consumer", `Cannot list the consumers of stream "${stream}"`);
    }
  }

  async consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
    const { jsm } = this.#live();
    assertName(stream, "stream");
    assertName(name, "consumer");
    try {
      return fromConsumerInfo(await jsm.consumers.info(stream, name));
    } catch (error) {
      throw natsError(error, "consumer", `Cannot read consumer "${name}" of stream "${stream}"`);
    }
  }

  async putConsumer(spec: ConsumerSpec): Promise<{ info: ConsumerInfo; created: boolean }> {
    const connection = this.#live();
    return await this.#putConsumer(connection, spec);
  }

  async deleteConsumer(stream: string, name: string): Promise<void> {
    const { jsm } = this.#live();
    assertName(stream, "stream");
    assertName(name, "consumer");
    try {
      await jsm.consumers.delete(stream, name);
    } catch (error) {
      throw natsError(error, "consumer", `Cannot delete consumer "${name}" of stream "${stream}"`);
    }
  }

  async fetch(
    stream: string,
    consumer: string,
    options: FetchOptions,
  ): Promise<DeliveredMessage[]> {
    const { pulls } = this.#live();
    assertName(stream, "stream");
    assertName(consumer, "consumer");
    return await pulls.fetch(stream, consumer, options);
  }

  async ack(token: string, action: AckAction, options: AckOptions = {}): Promise<void> {
    const { nc } = this.#live();
    const reply = this.#tokens.open(token);
    const delivery = reply === undefined ? undefined : parseAckSubject(reply);
    if (reply === undefined || delivery === undefined) {
      throw messagingError("messaging.token_invalid", {
        detail: "The ack token was not issued by this messaging instance",
        field: "body.token",
      });
    }
    const body = action === "nak"
      ? (options.delay ? `-NAK ${JSON.stringify({ delay: nanos(options.delay) })}` : "-NAK")
      : ACK_BODIES[action];
    try {
      // A request, not a plain publish: the server confirms, so a 2xx means it was recorded.
      await nc.request(reply, body, { timeout: this.#options.apiTimeout });
    } catch (error) {
      if (isNoResponders(error)) {
        throw messagingError("messaging.consumer_not_found", {
          detail:
            `Cannot ${action} the message: consumer "${delivery.consumer}" of stream "${delivery.stream}" is gone`,
          cause: error,
        });
      }
      throw natsError(error, "other", `Cannot ${action} message ${delivery.seq}`);
    }
  }

  async close(): Promise<void> {
    if (this.#connecting) await this.#connecting.catch(() => {});
    const connection = this.#connection;
    this.#connection = undefined;
    this.#online = false;
    this.#provisioned = false;
    this.#roundTrip = undefined;
    this.#unanswered = undefined;
    this.#wakeWaiters();
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    if (!connection) return;
    connection.pulls.close();
    try {
      await withTimeout(() => connection.nc.drain(), this.#options.apiTimeout, "Draining NATS");
    } catch {
      await connection.nc.close(); // Draining cannot finish while the server is away.
    }
    connection.acks.close();
    await connection.watching;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- connection ---

  async #open(): Promise<void> {
    const url = this.#where;
    let nc: NatsConnection;
    try {
      nc = await connect(await this.#connectionOptions());
    } catch (error) {
      this.#lastError = redactText(`Cannot connect to NATS at ${url}: ${messageOf(error)}`);
      throw messagingError.unavailable(this.#lastError, error);
    }
    this.#online = true;
    this.#provisioned = false;
    this.#roundTrip = undefined;
    this.#unanswered = undefined;
    let connection: Connection;
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.#options.apiTimeout });
      const js = jetstream(nc, { timeout: this.#options.apiTimeout });
      connection = {
        nc,
        jsm,
        js,
        acks: new AckWaiters(nc, this.#options.apiTimeout),
        pulls: new PullFetcher(nc, {
          apiPrefix: js.apiPrefix,
          apiTimeout: this.#options.apiTimeout,
          seal: (reply) => this.#tokens.seal(reply),
        }),
        watching: this.#watch(nc),
      };
    } catch (error) {
      await nc.close();
      this.#lastError = redactText(`Cannot use JetStream at ${url}: ${messageOf(error)}`);
      throw messagingError.unavailable(this.#lastError, error);
    }
    this.#connection = connection;
    try {
      await this.#provision(connection);
    } catch (error) {
      this.#connection = undefined;
      await nc.close();
      await connection.watching;
      throw error;
    }
  }

  async #connectionOptions(): Promise<ConnectionOptions> {
    const o = this.#options;
    const options: ConnectionOptions = {
      servers: o.url.split(",").map((s) => s.trim()).filter(Boolean),
      name: o.name ?? `edgebox-${o.scope}`,
      timeout: o.connectTimeout,
      ...RECONNECT,
      waitOnFirstConnect: false,
      // Otherwise every request (each acked publish) builds two Errors up front, stack traces
      // and all, in case it fails later: a fifth of the publish path's CPU (bench/messaging.ts).
      // Our errors carry the subject and stream instead.
      noAsyncTraces: true,
    };
    if (o.token) options.token = o.token;
    if (o.user) options.user = o.user;
    if (o.password) options.pass = o.password;
    if (o.creds) {
      try {
        options.authenticator = credsAuthenticator(await Deno.readFile(o.creds));
      } catch (error) {
        throw messagingError.unavailable(
          `Cannot read NATS credentials "${o.creds}": ${messageOf(error)}`,
          error,
        );
      }
    }
    return options;
  }

  /** Follows the client's reconnects; resolves once the connection is closed for good. */
  async #watch(nc: NatsConnection): Promise<void> {
    const watching = (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.#online = false;
        if (status.type === "reconnect") {
          this.#online = true;
          // A round trip of the old socket says nothing about the new one.
          this.#roundTrip = undefined;
          this.#unanswered = undefined;
          // Streams on memory storage are gone after a server restart: make them again.
          this.#provisioned = false;
          this.#wakeWaiters();
          const connection = this.#connection;
          if (connection?.nc === nc) {
            this.#provision(connection).catch((error) => {
              this.#options.log?.warn("cannot re-create streams after reconnect", {
                error: messageOf(error),
              });
            });
          }
        }
      }
    })();
    await nc.closed();
    this.#online = false;
    this.#wakeWaiters();
    await watching.catch(() => {});
  }

  /** Creates the configured streams and consumers; concurrent callers share one run. */
  #provision(connection: Connection): Promise<void> {
    this.#provisioning ??= (async () => {
      try {
        for (const spec of this.#options.streams ?? []) await this.#putStream(connection, spec);
        for (const spec of this.#options.consumers ?? []) {
          await this.#putConsumer(connection, spec);
        }
        this.#provisioned = true;
        this.#lastError = undefined;
      } catch (error) {
        this.#lastError = messageOf(error);
        throw error;
      }
    })().finally(() => this.#provisioning = undefined);
    return this.#provisioning;
  }

  // --- health ---

  #pingDeadline(): number {
    return Math.min(PING_DEADLINE, this.#options.apiTimeout);
  }

  /**
   * The round trip under way on `nc`, or a new one when the latest has settled. `silentSince`
   * (performance.now() time) backdates it: the server has not answered anything since then.
   */
  #sendPing(nc: NatsConnection, silentSince?: number): RoundTrip;
  #sendPing(nc: NatsConnection | undefined, silentSince?: number): RoundTrip | undefined;
  #sendPing(nc: NatsConnection | undefined, silentSince?: number): RoundTrip | undefined {
    if (!nc || nc.isClosed()) return undefined;
    const latest = this.#roundTrip;
    if (latest && latest.nc === nc && !latest.settled) {
      if (silentSince !== undefined) latest.sent = Math.min(latest.sent, silentSince);
      return latest;
    }
    const trip: RoundTrip = {
      nc,
      sent: silentSince ?? performance.now(),
      settled: false,
      answered: nc.flush(),
    };
    trip.answered.then(
      () => {
        trip.settled = true;
        if (this.#roundTrip === trip) this.#unanswered = undefined;
      },
      (error) => {
        trip.settled = true;
        if (this.#roundTrip === trip) {
          this.#unanswered = `NATS at ${this.#where} did not answer a ping: ${messageOf(error)}`;
        }
      },
    );
    this.#roundTrip = trip;
    return trip;
  }

  /**
   * Resolves once the client is connected and the server answered a ping; rejects with 503
   * after `connectTimeout`, or when `signal` aborts, while it is not.
   */
  async #serverBack(connection: Connection, signal?: AbortSignal): Promise<void> {
    const limit = this.#options.connectTimeout;
    const gaveUp = new AbortController();
    const timer = setTimeout(() => gaveUp.abort(), limit);
    const stop = signal ? AbortSignal.any([signal, gaveUp.signal]) : gaveUp.signal;
    try {
      while (!this.#online && !connection.nc.isClosed()) await this.#back(stop);
      const trip = this.#sendPing(connection.nc);
      if (trip && !trip.settled) await abortable(trip.answered, stop);
    } catch (error) {
      if (!stop.aborted) throw natsError(error, "other", `NATS at ${this.#where} is not answering`);
      const reason = this.#online
        ? `has not answered a ping for ${limit}ms`
        : `is still unreachable after ${limit}ms; reconnecting`;
      throw messagingError.unavailable(`NATS at ${this.#where} ${reason}`);
    } finally {
      clearTimeout(timer);
    }
    if (connection.nc.isClosed()) {
      throw messagingError.unavailable(
        this.#lastError ?? `Not connected to NATS at ${this.#where}`,
      );
    }
  }

  /** Resolves when the client reconnects or closes; rejects when `signal` aborts first. */
  #back(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const done = () => {
        this.#onBack.delete(done);
        signal.removeEventListener("abort", aborted);
        resolve();
      };
      const aborted = () => {
        this.#onBack.delete(done);
        reject(signal.reason);
      };
      this.#onBack.add(done);
      signal.addEventListener("abort", aborted, { once: true });
    });
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#onBack]) wake();
  }

  #live(): Connection {
    const connection = this.#connection;
    if (!connection || connection.nc.isClosed()) {
      throw messagingError.unavailable(
        this.#lastError ?? `Not connected to NATS at ${this.#where}`,
      );
    }
    if (!this.#online) throw messagingError.unavailable(`NATS at ${this.#where} is reconnecting`);
    return connection;
  }

  // --- streams and consumers ---

  async #putStream(
    { jsm }: Connection,
    spec: StreamSpec,
  ): Promise<{ info: StreamInfo; created: boolean }> {
    assertName(spec.name, "stream");
    const settings = resolveStreamSpec(spec);
    const config = toStreamConfig(settings);
    const action = `Cannot configure stream "${spec.name}"`;
    try {
      const existing = await jsm.streams.info(spec.name).catch((error) => {
        if (natsError(error, "stream", action).code === "messaging.stream_not_found") {
          return undefined;
        }
        throw error;
      });
      if (!existing) return { info: fromStreamInfo(await jsm.streams.add(config)), created: true };
      const current = fromStreamInfo(existing).config;
      for (const field of ["retention", "storage"] as const) {
        if (current[field] !== settings[field]) {
          throw messagingError("messaging.stream_conflict", {
            detail: `Cannot update stream "${spec.name}": ${field} cannot change`,
            field,
          });
        }
      }
      return { info: fromStreamInfo(await jsm.streams.update(spec.name, config)), created: false };
    } catch (error) {
      throw natsError(error, "stream", action);
    }
  }

  async #putConsumer(
    { jsm }: Connection,
    spec: ConsumerSpec,
  ): Promise<{ info: ConsumerInfo; created: boolean }> {
    assertName(spec.stream, "stream");
    assertName(spec.name, "consumer");
    const action = `Cannot configure consumer "${spec.name}" of stream "${spec.stream}"`;
    try {
      const stream = fromStreamInfo(await jsm.streams.info(spec.stream));
      const filter = spec.filterSubject;
      if (
        filter !== undefined && !stream.config.subjects.some((s) => filterSubsumes(s, filter))
      ) {
        throw messagingError("messaging.consumer_invalid", {
          detail:
            `${action}: filterSubject "${filter}" is not within the subjects of stream "${spec.stream}"`,
          field: "filterSubject",
        });
      }
      const existing = await jsm.consumers.info(spec.stream, spec.name).catch((error) => {
        if (natsError(error, "consumer", action).code === "messaging.consumer_not_found") {
          return undefined;
        }
        throw error;
      });
      const config = toConsumerConfig(spec);
      if (!existing) {
        return {
          info: fromConsumerInfo(await jsm.consumers.add(spec.stream, config)),
          created: true,
        };
      }
      if (fromConsumerInfo(existing).config.deliver !== spec.deliver) {
        throw messagingError("messaging.consumer_conflict", {
          detail: `Cannot update consumer "${spec.name}": deliver cannot change`,
          field: "deliver",
        });
      }
      const updated = await jsm.consumers.update(spec.stream, spec.name, {
        ack_wait: nanos(spec.ackWait),
        max_deliver: spec.maxDeliver ?? -1,
        max_ack_pending: spec.maxAckPending,
        filter_subject: spec.filterSubject ?? "",
      });
      return { info: fromConsumerInfo(updated), created: false };
    } catch (error) {
      throw natsError(error, "consumer", action);
    }
  }

  async #streamForFilter(filter: string): Promise<StreamInfo> {
    const { jsm } = this.#live();
    const names: string[] = [];
    try {
      for await (const name of jsm.streams.names(filter)) names.push(name);
    } catch (error) {
      throw natsError(error, "stream", `Cannot find the stream of "${filter}"`);
    }
    if (names.length === 0) {
      throw messagingError("messaging.no_stream", {
        detail: `No stream captures subject "${filter}"`,
      });
    }
    if (names.length > 1) {
      throw messagingError("messaging.subject_ambiguous", {
        detail: `Subject "${filter}" spans streams ${
          names.map((n) => `"${n}"`).join(", ")
        }; subscribe to a narrower subject`,
        field: "path.subject",
      });
    }
    const info = await this.streamInfo(names[0]!);
    if (info.config.retention === "workqueue") {
      throw messagingError("messaging.consumer_conflict", {
        detail:
          `Cannot subscribe to "${filter}": stream "${info.config.name}" is a work queue; fetch from its consumer instead`,
      });
    }
    if (!info.config.subjects.some((subject) => filterSubsumes(subject, filter))) {
      throw messagingError("messaging.subject_invalid", {
        detail: `Subject "${filter}" is wider than the subjects of stream "${info.config.name}"`,
        field: "path.subject",
      });
    }
    return info;
  }
}

NatsMessaging satisfies new (options: NatsMessagingOptions) => MessagingDriver;

/** A stream or consumer name becomes a subject token: anything else cannot exist. */
function assertName(name: string, kind: "stream" | "consumer"): void {
  if (NAME_PATTERN.test(name)) return;
  throw messagingError(
    kind === "stream" ? "messaging.stream_not_found" : "messaging.consumer_not_found",
    { detail: `No ${kind} is named "${name}"` },
  );
}

/** Settles like `promise`, or rejects once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const aborted = () => reject(signal.reason);
    signal.addEventListener("abort", aborted, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", aborted));
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
