/**
 * The audit plugin (type `audit`), an example of a plugin written outside edgebox: a key-value
 * API whose values live in the cache (through the `KEY_VALUE` capability, so any cache instance
 * and backend will do) and whose every change is recorded in an audit trail, paged at `GET /log`.
 * It imports only edgebox's public API (`mod.ts`), as a third party's plugin would.
 */
import { defineBackend, definePlugin, KEY_VALUE } from "../../mod.ts";
import { MemoryAuditConfig } from "./config.ts";
import { MemoryAudit } from "./memory.ts";
import { auditRoutes } from "./routes.ts";

export type { AuditConfig } from "./config.ts";
export type { AuditDriver, AuditRecord } from "./driver.ts";
export { auditError } from "./errors.ts";

/** The audit plugin definition: add it to `main`'s plugin list (see main.ts). */
export const auditPlugin = definePlugin({
  type: "audit",
  description: "Key-value API with an audit trail of every change (values in the cache)",
  // Whichever cache instance is enabled provides it; a config without one is refused.
  requires: [KEY_VALUE],
  backends: {
    memory: defineBackend({
      config: MemoryAuditConfig,
      create: (ctx) =>
        new MemoryAudit(ctx.use(KEY_VALUE), {
          keyPrefix: ctx.config.keyPrefix ?? `${ctx.name}:`,
          maxRecords: ctx.config.maxRecords,
        }),
    }),
  },
  routes: (driver, ctx) => auditRoutes(driver, { instance: ctx.name, ...ctx.config }),
  bodyLimit: (config) => config.maxValueSize,
});
