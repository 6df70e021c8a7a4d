/**
 * HTTP routes of the messaging plugin, written only against {@linkcode MessagingDriver}. Message
 * bodies pass through as bytes with their content type; everything else is JSON. Subjects,
 * names, batch sizes, waits, timeouts, headers and payload sizes are validated here (4xx naming
 * the field) before the driver sees them. Each resource registers its routes from its own file
 * under `routes/`.
 */
import type { PluginRoutes } from "../../core/http_env.ts";
import type { PluginContext } from "../../core/plugin.ts";
import { createRouter } from "../../core/routes.ts";
import type { MessagingConfig } from "./config.ts";
import { deliverySpans } from "./delivery_trace.ts";
import type { MessagingDriver } from "./driver.ts";
import { registerConsumerRoutes } from "./routes/consumers.ts";
import type { MessagingRoutesOptions } from "./routes/options.ts";
import { registerPublishRoutes } from "./routes/publish.ts";
import { registerRequestRoutes } from "./routes/request.ts";
import { registerStreamRoutes } from "./routes/streams.ts";
import { registerSubscribeRoutes } from "./routes/subscribe.ts";

export type { MessagingRoutesOptions } from "./routes/options.ts";

/** The routes' options for a plugin instance: its config, its lifecycle signals, its hooks. */
export function routeOptions(ctx: PluginContext<MessagingConfig>): MessagingRoutesOptions {
  const subscriptions = ctx.metrics.gauge(
    "edgebox_messaging_subscriptions",
    "Server-sent event subscriptions open now",
  );
  return {
    ...ctx.config,
    instance: ctx.name,
    signal: AbortSignal.any([ctx.draining, ctx.signal]),
    traceHeaders: () => ctx.traceHeaders(),
    onDelivered: deliverySpans(ctx),
    onSubscriptions: (open) => subscriptions.set(open),
  };
}

/** Builds the messaging sub-app: publish, subscribe, request, streams, consumers (fetch, ack). */
export function messagingRoutes(
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): PluginRoutes {
  const app = createRouter();
  registerPublishRoutes(app, driver, options);
  registerSubscribeRoutes(app, driver, options);
  registerRequestRoutes(app, driver, options);
  registerStreamRoutes(app, driver, options);
  registerConsumerRoutes(app, driver, options);
  return app;
}
