/**
 * The messaging plugin: durable, ordered, exactly-once-publish messaging over HTTP, on NATS
 * JetStream or on an embedded broker with the same semantics, its state in an SQLite file in the
 * data directory (`sqlite`) or in memory (`memory`). Streams capture subjects; clients
 * publish, follow subjects as server-sent events, pull from durable consumers and ack by token,
 * and make requests. Its exports give other plugins the same driver.
 */
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin } from "../../core/plugin.ts";
import * as config from "./config.ts";
import type { MessagingDriver, MessagingFeature } from "./driver.ts";
import { MemoryMessaging } from "./memory.ts";
import { meteredDriver } from "./metered.ts";
import { SqliteMessaging } from "./sqlite.ts";
import { messagingRoutes, routeOptions } from "./routes.ts";

/** What `ctx.use("messaging")` returns. */
export type MessagingExports = MessagingDriver;

/** The messaging plugin definition. */
export const messagingPlugin = definePlugin({
  type: "messaging",
  description:
    "Streams, durable consumers, server-sent events and request/reply (NATS JetStream, or in-process on SQLite or in memory)",
  backends: {
    nats: defineBackend({
      config: config.NatsMessagingConfig,
      system: "nats",
      // The NATS client loads only when a NATS instance connects (core/lazy.ts).
      create: (ctx) =>
        meteredDriver(
          lazyDriver<MessagingDriver>({
            load: async () =>
              new (await import("./nats.ts")).NatsMessaging(config.natsOptions(ctx)),
            known: { backend: "nats", features: new Set<MessagingFeature>(["persistence"]) },
          }),
          ctx.metrics,
        ),
    }),
    sqlite: defineBackend({
      config: config.SqliteMessagingConfig,
      system: "sqlite",
      create: (ctx) => meteredDriver(new SqliteMessaging(config.sqliteOptions(ctx)), ctx.metrics),
    }),
    memory: defineBackend({
      config: config.MemoryMessagingConfig,
      create: (ctx) => meteredDriver(new MemoryMessaging(config.memoryOptions(ctx)), ctx.metrics),
    }),
  },
  routes: (driver, ctx) => messagingRoutes(driver, routeOptions(ctx)),
  api: (driver): MessagingExports => driver,
  bodyLimit: config.bodyLimit,
});
