/** A live subscription on the memory broker: follows a stream, waiting for appends at its end. */
import type { StoredMessage, Subscription } from "./driver.ts";
import { type MemoryMessage, type MemoryStream, toStored, waitForChange } from "./memory_state.ts";
import { subjectMatches } from "./subjects.ts";

/** Options of {@linkcode MemorySubscription}. */
export interface MemorySubscriptionOptions {
  stream: MemoryStream;
  filter: string;
  start: number;
  signal: AbortSignal;
  isCurrent(stream: MemoryStream): boolean;
  enforceLimits(stream: MemoryStream): void;
  onClose(subscription: MemorySubscription): void;
}

/** Follows one stream from a starting sequence, waiting for appends at the end. */
export class MemorySubscription implements Subscription {
  readonly stream: string;
  readonly #options: MemorySubscriptionOptions;
  readonly #closed = new AbortController();
  readonly #signal: AbortSignal;

  constructor(options: MemorySubscriptionOptions) {
    this.#options = options;
    this.stream = options.stream.settings.name;
    this.#signal = AbortSignal.any([options.signal, this.#closed.signal]);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredMessage> {
    const { stream, filter } = this.#options;
    let next = this.#options.start;
    try {
      while (!this.#signal.aborted && this.#options.isCurrent(stream)) {
        this.#options.enforceLimits(stream);
        let found: MemoryMessage | undefined;
        const first = stream.messages.keys().next();
        next = Math.max(next, first.done ? stream.lastSeq + 1 : first.value);
        for (; next <= stream.lastSeq && !found; next++) {
          const message = stream.messages.get(next);
          if (message && subjectMatches(filter, message.subject)) found = message;
        }
        if (found) yield toStored(this.stream, found);
        else await waitForChange(stream.listeners, Infinity, this.#signal);
      }
    } finally {
      this.#options.onClose(this);
    }
  }

  close(): Promise<void> {
    this.#closed.abort();
    this.#options.onClose(this);
    return Promise.resolve();
  }
}
