/**
 * JetStream publishes awaiting their acks over ONE reply subscription. `js.publish` makes a
 * core request per message, and nats-core's request builds an Error (stack trace and all) when
 * it settles, even on success (`RequestOne.cancel`), plus a timer of its own: a sixth of the
 * HTTP publish path's CPU under load (bench/messaging.ts, `--cpu-prof`). Here a publish is a
 * plain message with a reply subject under one wildcard inbox; its ack resolves a map entry, and
 * one sweep timer, running only while acks are awaited, times out the late ones. The ack is read
 * as `js.publish` reads it, and its failures take the client's own error types, so callers map
 * them as before (nats_convert.ts).
 */
import {
  createInbox,
  errors,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { JetStreamApiError } from "@nats-io/jetstream";

/** The status code a NATS server answers a request no one subscribes to with. */
const NO_RESPONDERS = 503;

/** A stream's acknowledgement of one message. */
export interface StreamAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Waiter {
  resolve(ack: StreamAck): void;
  reject(error: Error): void;
  /** `performance.now()` past which the ack is late. */
  deadline: number;
}

/** What a JetStream publish answers: an ack, or an API error. */
interface AckReply {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code: number; description: string };
}

/** The error `js.publish` throws when no stream captures the subject (see nats_convert.ts). */
export class NoStreamForSubject extends Error {
  override readonly name = "JetStreamNotEnabled";
}

/** Publishes to JetStream and awaits each ack, over one subscription of one connection. */
export class AckWaiters {
  readonly #nc: NatsConnection;
  readonly #timeout: number;
  readonly #inbox: string;
  readonly #subscription: Subscription;
  readonly #waiting = new Map<string, Waiter>();
  #next = 0;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** Subscribes to the reply inbox; `timeout` (ms) bounds each ack. */
  constructor(nc: NatsConnection, timeout: number, inboxPrefix?: string) {
    this.#nc = nc;
    this.#timeout = timeout;
    this.#inbox = createInbox(inboxPrefix);
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error) return this.#rejectAll(error);
        const token = msg.subject.slice(this.#inbox.length + 1);
        const waiter = this.#waiting.get(token);
        if (!waiter) return; // timed out already
        this.#waiting.delete(token);
        if (msg.headers?.code === NO_RESPONDERS) {
          waiter.reject(new NoStreamForSubject("no stream captures the subject"));
          return;
        }
        try {
          const reply = msg.json<AckReply>();
          if (reply.error) waiter.reject(new JetStreamApiError(reply.error));
          else if (!reply.stream) waiter.reject(new Error("invalid ack response"));
          else {
            waiter.resolve({
              stream: reply.stream,
              seq: reply.seq ?? 0,
              duplicate: reply.duplicate ?? false,
            });
          }
        } catch (cause) {
          waiter.reject(new Error("unreadable ack response", { cause }));
        }
      },
    });
    // However the connection ends, nothing waits for an ack that cannot come.
    nc.closed().then(() => this.close());
  }

  /** How many publishes await their ack. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Publishes `data` to `subject` and resolves with the stream's ack; rejects with
   * `TimeoutError` when none comes within the timeout. Throws at once what `nc.publish` throws
   * (an invalid subject, a message above the server's max_payload).
   */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<StreamAck> {
    if (this.#nc.isClosed()) return Promise.reject(new errors.ClosedConnectionError());
    const token = (this.#next++).toString(36);
    const acked = new Promise<StreamAck>((resolve, reject) => {
      this.#waiting.set(token, {
        resolve,
        reject,
        deadline: performance.now() + this.#timeout,
      });
    });
    try {
      this.#nc.publish(subject, data, {
        reply: `${this.#inbox}.${token}`,
        ...(headers ? { headers } : {}),
      });
    } catch (error) {
      this.#waiting.delete(token);
      throw error;
    }
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(5, this.#timeout / 10));
    return acked;
  }

  /** Rejects every waiting publish and unsubscribes; safe to call twice. */
  close(): void {
    this.#rejectAll(new errors.ClosedConnectionError());
    if (!this.#subscription.isClosed()) this.#subscription.unsubscribe();
  }

  #sweep(): void {
    const now = performance.now();
    for (const [token, waiter] of this.#waiting) {
      if (waiter.deadline > now) continue;
      this.#waiting.delete(token);
      waiter.reject(new errors.TimeoutError());
    }
    this.#stopSweepingIfIdle();
  }

  #rejectAll(error: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const waiter of waiting) waiter.reject(error);
    this.#stopSweepingIfIdle();
  }

  #stopSweepingIfIdle(): void {
    if (this.#waiting.size > 0 || this.#sweeper === undefined) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
