/** A live subscription on NATS: an ordered consumer's messages, ended on abort or stream deletion. */
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { DeliverPolicy as Deliver, StoredMessage, Subscription } from "./driver.ts";
import { fromHeaders } from "./nats_convert.ts";

/** The ordered consumer options that start where `deliver` says. */
export function orderedStart(deliver: Deliver): Partial<OrderedConsumerOptions> {
  switch (deliver.kind) {
    case "all":
      return { deliver_policy: DeliverPolicy.All };
    case "new":
      return { deliver_policy: DeliverPolicy.New };
    case "last":
      return { deliver_policy: DeliverPolicy.Last };
    case "seq":
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: deliver.seq };
    case "time":
      return {
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: deliver.time.toISOString(),
      };
  }
}

/** An ordered consumer's messages as a subscription. */
export class NatsLiveSubscription implements Subscription {
  readonly stream: string;
  readonly #messages: ConsumerMessages;
  readonly #signal: AbortSignal;
  readonly #onClose: (sub: NatsLiveSubscription) => void;
  #closing: Promise<void> | undefined;

  constructor(
    stream: string,
    messages: ConsumerMessages,
    signal: AbortSignal,
    onClose: (sub: NatsLiveSubscription) => void,
    streamGone: () => Promise<boolean>,
  ) {
    this.stream = stream;
    this.#messages = messages;
    this.#signal = signal;
    this.#onClose = onClose;
    if (signal.aborted) void this.close();
    else signal.addEventListener("abort", () => void this.close(), { once: true });
    // The ordered consumer would keep trying to recreate itself on a deleted stream; end instead.
    (async () => {
      for await (const status of messages.status()) {
        const suspect = status.type === "consumer_deleted" || status.type === "stream_not_found";
        if (suspect && await streamGone()) {
          await this.close();
          return;
        }
      }
    })().catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredMessage> {
    try {
      for await (const msg of this.#messages) {
        if (this.#signal.aborted) break;
        yield toStored(msg);
      }
    } finally {
      await this.close();
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#onClose(this);
      await this.#messages.close().catch(() => {});
    })();
    return this.#closing;
  }
}

function toStored(msg: JsMsg): StoredMessage {
  return {
    stream: msg.info.stream,
    subject: msg.subject,
    seq: msg.seq,
    time: new Date(Math.floor(msg.info.timestampNanos / 1_000_000)),
    headers: fromHeaders(msg.headers),
    data: msg.data,
  };
}
