/**
 * Fetching from a durable JetStream consumer with the pull protocol itself (one request to
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`, answers on an inbox): it offers `no_wait`,
 * which the client's `fetch()` does not, so a fetch can answer as soon as one message is ready.
 */
import { createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import type { DeliveredMessage, FetchOptions } from "./driver.ts";
import { messagingError } from "./errors.ts";
import { fromHeaders, nanos, natsError, parseAckSubject } from "./nats_convert.ts";

/** Options of {@linkcode PullFetcher}. */
export interface PullFetcherOptions {
  /** The JetStream API prefix (`$JS.API`, or a domain's). */
  apiPrefix: string;
  /** Slack on top of a request's own wait before it is given up. */
  apiTimeout: number;
  /** Turns a delivery's reply subject into its ack token. */
  seal(reply: string): string;
}

interface PullRequest {
  batch: number;
  no_wait?: boolean;
  expires?: number;
}

/** Fetches over one connection; remembers aborted requests' inboxes until they expire. */
export class PullFetcher {
  readonly #nc: NatsConnection;
  readonly #options: PullFetcherOptions;
  /** Inboxes kept after an aborted fetch, to give late deliveries straight back. */
  readonly #lingering = new Map<{ unsubscribe(): void }, ReturnType<typeof setTimeout>>();

  constructor(nc: NatsConnection, options: PullFetcherOptions) {
    this.#nc = nc;
    this.#options = options;
  }

  /**
   * First what is ready now; only when nothing is, waits for one message, then takes what else
   * is ready: a single pull request for the whole batch would hold its answer until it filled.
   */
  async fetch(
    stream: string,
    consumer: string,
    options: FetchOptions,
  ): Promise<DeliveredMessage[]> {
    const { batch, wait, signal } = options;
    const ready = await this.#pull(stream, consumer, { batch, no_wait: true }, 0);
    if (ready.length > 0 || wait <= 0 || signal?.aborted) return ready;
    const request = { batch: 1, expires: nanos(Math.max(wait, 1)) };
    const first = await this.#pull(stream, consumer, request, wait, signal);
    if (first.length === 0 || batch === 1) return first;
    const rest = await this.#pull(stream, consumer, { batch: batch - 1, no_wait: true }, 0);
    return [...first, ...rest];
  }

  /** Drops the inboxes of aborted requests. */
  close(): void {
    for (const [sub, timer] of this.#lingering) {
      clearTimeout(timer);
      sub.unsubscribe();
    }
    this.#lingering.clear();
  }

  /**
   * Sends one pull request and collects its messages until the batch is full or the server
   * says the request ended. On abort it answers at once with what it has and keeps the inbox
   * open until the request expires, naking anything that still arrives so it is redelivered now
   * rather than after the ack wait.
   */
  #pull(
    stream: string,
    consumer: string,
    request: PullRequest,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<DeliveredMessage[]> {
    const nc = this.#nc;
    return new Promise((resolve, reject) => {
      const got: DeliveredMessage[] = [];
      let settled = false;
      let expected = request.batch;
      const finish = (error?: unknown, linger = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        signal?.removeEventListener("abort", onAbort);
        if (linger && expected > 0) {
          this.#lingering.set(
            sub,
            setTimeout(() => this.#endLinger(sub), waitMs + this.#options.apiTimeout),
          );
        } else sub.unsubscribe();
        if (error) reject(error);
        else resolve(got);
      };
      const sub = nc.subscribe(createInbox(), {
        callback: (error, msg) => {
          if (error) return finish(natsError(error, "consumer", "Cannot fetch"));
          const code = msg.headers?.code ?? 0;
          if (settled) {
            // An aborted fetch's late delivery: hand it back for immediate redelivery.
            if (code === 0 && msg.reply) nc.publish(msg.reply, "-NAK");
            if (code !== 0 || --expected <= 0) this.#endLinger(sub);
            return;
          }
          if (code !== 0) return finish(pullStatus(msg, stream, consumer));
          const delivered = this.#toDelivered(msg);
          if (delivered) got.push(delivered);
          expected--;
          if (expected <= 0) finish();
        },
      });
      const onAbort = () => finish(undefined, true);
      signal?.addEventListener("abort", onAbort, { once: true });
      // A status always ends a request, but a lost connection must not leave it hanging.
      const guard = setTimeout(() => finish(), waitMs + this.#options.apiTimeout);
      nc.publish(
        `${this.#options.apiPrefix}.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
        JSON.stringify(request),
        { reply: sub.getSubject() },
      );
    });
  }

  #endLinger(sub: { unsubscribe(): void }): void {
    sub.unsubscribe();
    clearTimeout(this.#lingering.get(sub));
    this.#lingering.delete(sub);
  }

  #toDelivered(msg: Msg): DeliveredMessage | undefined {
    const delivery = msg.reply ? parseAckSubject(msg.reply) : undefined;
    if (!delivery) return undefined;
    return {
      stream: delivery.stream,
      subject: msg.subject,
      seq: delivery.seq,
      time: new Date(delivery.time),
      headers: fromHeaders(msg.headers),
      data: msg.data,
      deliveries: delivery.deliveries,
      token: this.#options.seal(msg.reply!),
    };
  }
}

/** What a status answer to a pull request means: nothing (no messages, expired) or an error. */
function pullStatus(msg: Msg, stream: string, consumer: string): Error | undefined {
  const code = msg.headers?.code ?? 0;
  const description = (msg.headers?.description ?? "").toLowerCase();
  if (code === 404 || code === 408) return undefined;
  if (code === 503) {
    return messagingError("messaging.consumer_not_found", {
      detail: `Consumer "${consumer}" does not exist on stream "${stream}"`,
    });
  }
  if (code === 409 && description.includes("max waiting")) {
    return messagingError("messaging.too_many_fetches", {
      detail: `Too many fetches are waiting on consumer "${consumer}"`,
      headers: { "Retry-After": "1" },
    });
  }
  if (code === 409 && description.includes("deleted")) {
    return messagingError("messaging.consumer_not_found", {
      detail: `Consumer "${consumer}" of stream "${stream}" was deleted`,
    });
  }
  if (code === 409 && description.includes("leadership change")) return undefined;
  return messagingError("messaging.backend_error", {
    detail: `Cannot fetch from consumer "${consumer}": ${code} ${description}`,
  });
}
