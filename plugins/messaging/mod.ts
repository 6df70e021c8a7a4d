/**
 * The messaging plugin: durable, ordered, exactly-once-publish messaging over HTTP, on NATS
 * JetStream or on an embedded broker with the same semantics, its state in an SQLite file in the
 * data directory (`sqlite`) or in memory (`memory`). Streams capture subjects; clients
 * publish, follow subjects as server-sent events, pull from durable consumers and ack by token,
 * and make requests. Its exports give other plugins the same driver.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import {
  MemoryMessagingConfig,
  type MessagingConfig,
  NatsMessagingConfig,
  SqliteMessagingConfig,
} from "./config.ts";
import type { MessagingDriver } from "./driver.ts";

/** What `ctx.use("messaging")` returns. */
export type MessagingExports = MessagingDriver;

/**
 * The messaging plugin definition; its implementation (`plugin.ts`) loads when an instance is
 * enabled.
 */
export const messagingPlugin = lazyPlugin<MessagingConfig, MessagingExports>({
  type: "messaging",
  description:
    "Streams, durable consumers, server-sent events and request/reply (NATS JetStream, or in-process on SQLite or in memory)",
  config: {
    nats: NatsMessagingConfig,
    sqlite: SqliteMessagingConfig,
    memory: MemoryMessagingConfig,
  },
  load: async () => (await import("./plugin.ts")).messagingImplementation,
});
