/** The messaging plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { type MessagingExports, messagingPlugin } from "./mod.ts";
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import * as config from "./config.ts";
import type { MessagingDriver, MessagingFeature } from "./driver.ts";
import { MemoryMessaging } from "./memory.ts";
import { meteredDriver } from "./metered.ts";
import { SqliteMessaging } from "./sqlite.ts";
import { messagingRoutes, routeOptions } from "./routes.ts";

/** The messaging plugin's implementation, loaded by its light definition in `mod.ts`. */
export const messagingImplementation: PluginDefinition = definePlugin({
  type: messagingPlugin.type,
  description: messagingPlugin.description,
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
