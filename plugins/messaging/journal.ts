/**
 * The memory broker's changes as events. The broker applies every change through one of these,
 * and hands each to a {@linkcode BrokerJournal} when it has one, replaying the journal when it
 * first connects. A durable embedded backend is therefore a journal that writes to disk
 * (`sqlite_journal.ts`): the broker, the routes and the contract suite stay as they are.
 */
import type { ConsumerSpec, MessageHeaders, StreamSettings } from "./driver.ts";

/** One change to the broker's state. Times are epoch milliseconds. */
export type BrokerEvent =
  | {
    type: "stream.put";
    settings: StreamSettings;
    created: number;
    /**
     * The last sequence ever assigned, when a journal restores a stream whose last messages are
     * gone: sequences never repeat. Only read when the stream is created.
     */
    lastSeq?: number;
  }
  | { type: "stream.delete"; stream: string }
  | {
    type: "message.append";
    stream: string;
    seq: number;
    subject: string;
    time: number;
    headers: MessageHeaders;
    data: Uint8Array;
    msgId?: string;
  }
  | { type: "message.remove"; stream: string; seq: number }
  /**
   * An idempotency key a journal restores without its message (which limits may have removed):
   * it holds until the duplicate window passes. The broker itself never emits this.
   */
  | { type: "message.dedup"; stream: string; msgId: string; seq: number; time: number }
  | {
    type: "consumer.put";
    spec: ConsumerSpec;
    created: number;
    nextSeq: number;
    /** The highest sequence ever delivered, when a journal restores a consumer. */
    lastDelivered?: number;
  }
  | { type: "consumer.delete"; stream: string; consumer: string }
  /** A delivery: the message is pending until `due`, then redelivered unless settled. */
  | {
    type: "consumer.deliver";
    stream: string;
    consumer: string;
    seq: number;
    deliveries: number;
    due: number;
  }
  /** A nak (earlier `due`) or a working signal (later `due`). */
  | { type: "consumer.due"; stream: string; consumer: string; seq: number; due: number }
  /** Acked or terminated: never delivered again. */
  | { type: "consumer.settle"; stream: string; consumer: string; seq: number }
  /** Delivered `maxDeliver` times without an ack: never delivered again, still unacked. */
  | { type: "consumer.exhaust"; stream: string; consumer: string; seq: number };

/** Where the broker records its events. */
export interface BrokerJournal {
  /** Every event recorded so far, in order; replayed once, when the broker first connects. */
  replay(): Iterable<BrokerEvent>;
  /** Records an event (buffered; the broker calls {@linkcode flush} before it answers). */
  append(event: BrokerEvent): void;
  /** Makes the appended events durable. */
  flush(): Promise<void>;
}

/**
 * A journal kept in an array: the reference implementation of the interface, and what tests use
 * to prove a broker rebuilt from a journal behaves like the one that wrote it.
 */
export class ArrayJournal implements BrokerJournal {
  readonly #events: BrokerEvent[] = [];

  /** Events recorded so far. */
  get length(): number {
    return this.#events.length;
  }

  replay(): Iterable<BrokerEvent> {
    return [...this.#events];
  }

  append(event: BrokerEvent): void {
    this.#events.push(event);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }
}
