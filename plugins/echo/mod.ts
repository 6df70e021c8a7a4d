/**
 * The echo plugin: a tiny plugin that uses every part of the contract (a backend, routes, start,
 * ready, stop, exports). It is the smallest worked example of a declaration.
 */
import { defineBackend, definePlugin } from "../../core/plugin.ts";
import { MemoryEchoConfig } from "./config.ts";
import { MemoryEcho } from "./memory.ts";
import { echoRoutes } from "./routes.ts";

/** The echo plugin definition. */
export const echoPlugin = definePlugin({
  type: "echo",
  description: "Echoes requests back; the example plugin that exercises every lifecycle hook",
  backends: {
    memory: defineBackend({
      config: MemoryEchoConfig,
      instrument: false, // in process and synchronous: nothing to time
      create: (ctx) =>
        new MemoryEcho({ connectDelay: ctx.config.connectDelay, signal: ctx.signal }),
    }),
  },
  routes: (driver, ctx) => echoRoutes(driver, ctx.config),
  api: (driver) => driver,
});
