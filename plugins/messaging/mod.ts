/**
 * The messaging plugin: durable, ordered, exactly-once-publish messaging over HTTP, on NATS
 * JetStream or on an embedded broker with the same semantics. Streams capture subjects; clients
 * publish, follow subjects as server-sent events, pull from durable consumers and ack by token,
 * and make requests. Its exports give other plugins the same driver.
 */
import { definePlugin } from "../../core/plugin.ts";
import { MessagingConfig, toConsumerSpec, toStreamSpec } from "./config.ts";
import type { MessagingDriver } from "./driver.ts";
import { MemoryMessaging } from "./memory.ts";
import { meteredDriver } from "./metered.ts";
import { NatsMessaging } from "./nats.ts";
import { messagingRoutes } from "./routes.ts";

/** What `ctx.use("messaging")` returns. */
export type MessagingExports = MessagingDriver;

/** JSON routes (streams, consumers, acks) need room even when payloads are kept tiny. */
const MIN_BODY_LIMIT = 64 * 1024;

/** The messaging plugin definition. */
export const messagingPlugin = definePlugin({
  type: "messaging",
  description:
    "Streams, durable consumers, server-sent events and request/reply (NATS JetStream or in-process)",
  config: MessagingConfig,
  requires: [],
  create(ctx) {
    const config = ctx.config;
    const common = {
      scope: ctx.name,
      maxPayload: config.maxPayload,
      streams: config.streams.map(toStreamSpec),
      consumers: config.consumers.map(toConsumerSpec),
      ...(config.ackSecret === undefined ? {} : { ackSecret: config.ackSecret }),
    };
    const backend: MessagingDriver = config.backend === "nats"
      ? new NatsMessaging({
        ...common,
        url: config.url,
        connectTimeout: config.connectTimeout,
        apiTimeout: config.apiTimeout,
        log: ctx.log,
        ...(config.token ? { token: config.token } : {}),
        ...(config.user ? { user: config.user } : {}),
        ...(config.password ? { password: config.password } : {}),
        ...(config.creds ? { creds: config.creds } : {}),
        ...(config.name ? { name: config.name } : {}),
      })
      : new MemoryMessaging({ ...common, maxTotalBytes: config.maxTotalBytes });
    const driver = ctx.instrument(
      meteredDriver(backend, ctx.metrics),
      config.backend === "nats" ? { system: "nats" } : {},
    );
    const subscriptions = ctx.metrics.gauge(
      "edgebox_messaging_subscriptions",
      "Server-sent event subscriptions open now",
    );
    return {
      routes: messagingRoutes(driver, {
        ...config,
        signal: AbortSignal.any([ctx.draining, ctx.signal]),
        traceHeaders: () => ctx.traceHeaders(),
        onDelivered: (message) => {
          const traceparent = headerValue(message.headers, "traceparent");
          if (!traceparent) return;
          const tracestate = headerValue(message.headers, "tracestate");
          const carrier = tracestate ? { traceparent, tracestate } : { traceparent };
          void ctx.withTraceParent(carrier, () =>
            ctx.span(`messaging.deliver ${message.subject}`, {
              "messaging.system": config.backend,
              "messaging.operation.type": "receive",
              "messaging.destination.name": message.subject,
              "messaging.message.id": String(message.seq),
              "messaging.consumer.group.name": message.stream,
            }, () => Promise.resolve()));
        },
        onSubscriptions: (open) => subscriptions.set(open),
      }),
      start: () => backend.connect(),
      ready: () => backend.ping(),
      stop: () => backend.close(),
      exports: driver,
      bodyLimit: Math.max(config.maxPayload, MIN_BODY_LIMIT),
    };
  },
});

/** A header's value whatever the case of its name (NATS keeps case; W3C names are lowercase). */
function headerValue(headers: Record<string, string>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}
