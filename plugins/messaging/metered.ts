/**
 * Counts what flows through a messaging driver (published, delivered, acked, redelivered,
 * publish latency) through the core's metrics interface, whatever the backend. Labels stay
 * bounded: actions and outcomes, never subjects or stream names.
 */
import type { Metrics } from "../../core/metrics.ts";
import type {
  AckAction,
  AckOptions,
  DeliveredMessage,
  FetchOptions,
  MessagingDriver,
  OutgoingMessage,
  PubAck,
  PublishOptions,
  StoredMessage,
  SubscribeOptions,
  Subscription,
} from "./driver.ts";

/** Wraps `driver` so its traffic is counted; every other call passes straight through. */
export function meteredDriver(driver: MessagingDriver, metrics: Metrics): MessagingDriver {
  const published = metrics.counter(
    "edgebox_messaging_published_total",
    "Messages published (duplicates included), by outcome",
    ["outcome"],
  );
  const latency = metrics.histogram(
    "edgebox_messaging_publish_duration_seconds",
    "Time from publish to the backend's acknowledgement",
  );
  const delivered = metrics.counter(
    "edgebox_messaging_delivered_total",
    "Messages handed to fetches and subscriptions",
    ["via"],
  );
  const redelivered = metrics.counter(
    "edgebox_messaging_redelivered_total",
    "Fetched messages delivered more than once",
  );
  const acked = metrics.counter(
    "edgebox_messaging_acked_total",
    "Deliveries acted on by token, by action",
    ["action"],
  );

  // Frozen label sets are bound once by the metrics backend (no per-call label hashing).
  const outcome = {
    error: Object.freeze({ outcome: "error" }),
    duplicate: Object.freeze({ outcome: "duplicate" }),
    stored: Object.freeze({ outcome: "stored" }),
  };
  const via = {
    fetch: Object.freeze({ via: "fetch" }),
    subscribe: Object.freeze({ via: "subscribe" }),
  };
  const actions = new Map<AckAction, Readonly<{ action: AckAction }>>();
  const actionLabels = (action: AckAction) => {
    let labels = actions.get(action);
    if (!labels) actions.set(action, labels = Object.freeze({ action }));
    return labels;
  };

  const metered: Partial<MessagingDriver> = {
    publish: async (subject: string, message: OutgoingMessage, options?: PublishOptions) => {
      const started = performance.now();
      let ack: PubAck;
      try {
        ack = await driver.publish(subject, message, options);
      } catch (error) {
        published.inc(outcome.error);
        throw error;
      }
      latency.observe((performance.now() - started) / 1000);
      published.inc(ack.duplicate ? outcome.duplicate : outcome.stored);
      return ack;
    },
    fetch: async (stream: string, consumer: string, options: FetchOptions) => {
      const messages: DeliveredMessage[] = await driver.fetch(stream, consumer, options);
      if (messages.length > 0) delivered.inc(via.fetch, messages.length);
      const again = messages.filter((m) => m.deliveries > 1).length;
      if (again > 0) redelivered.inc(undefined, again);
      return messages;
    },
    ack: async (token: string, action: AckAction, options?: AckOptions) => {
      await driver.ack(token, action, options);
      acked.inc(actionLabels(action));
    },
    subscribe: async (filter: string, options: SubscribeOptions) => {
      const subscription = await driver.subscribe(filter, options);
      return countedSubscription(subscription, () => delivered.inc(via.subscribe));
    },
  };
  const bound = new Map<PropertyKey, unknown>();

  return new Proxy(driver, {
    get(target, property, receiver) {
      const own = metered[property as keyof MessagingDriver];
      if (own !== undefined) return own;
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      let method = bound.get(property);
      if (method === undefined) bound.set(property, method = value.bind(target));
      return method;
    },
  });
}

function countedSubscription(subscription: Subscription, onMessage: () => void): Subscription {
  return {
    stream: subscription.stream,
    close: () => subscription.close(),
    async *[Symbol.asyncIterator](): AsyncIterator<StoredMessage> {
      for await (const message of subscription) {
        onMessage();
        yield message;
      }
    },
  };
}
