/**
 * Caps live subscriptions (server-sent event streams): each holds a connection and a backend
 * consumer for as long as the client stays, so both the total and each client's share are
 * bounded. A client is the authenticated principal (the API key's name).
 */
import { messagingError } from "./errors.ts";

/** Options of {@linkcode SubscriptionSlots}. */
export interface SubscriptionSlotsOptions {
  /** Open at once, in total. */
  max: number;
  /** Open at once, per client. */
  maxPerClient: number;
}

/** Hands out and takes back subscription slots. */
export class SubscriptionSlots {
  readonly #options: SubscriptionSlotsOptions;
  readonly #perClient = new Map<string, number>();
  #open = 0;

  constructor(options: SubscriptionSlotsOptions) {
    this.#options = options;
  }

  /** Subscriptions open now. */
  get open(): number {
    return this.#open;
  }

  /** Takes a slot for `client`, or throws 429; the returned function gives it back (once). */
  acquire(client: string): () => void {
    const mine = this.#perClient.get(client) ?? 0;
    if (this.#open >= this.#options.max || mine >= this.#options.maxPerClient) {
      const perClient = mine >= this.#options.maxPerClient;
      throw messagingError("messaging.too_many_subscriptions", {
        detail: perClient
          ? `Client "${client}" already holds ${mine} subscriptions, the most allowed`
          : `${this.#open} subscriptions are open, the most allowed`,
        headers: { "Retry-After": "5" },
        extra: { limit: perClient ? this.#options.maxPerClient : this.#options.max },
      });
    }
    this.#open++;
    this.#perClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    };
  }
}
