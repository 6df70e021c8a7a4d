/** The echo plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { echoPlugin } from "./mod.ts";
import { defineBackend, definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import { MemoryEchoConfig } from "./config.ts";
import { MemoryEcho } from "./memory.ts";
import { echoRoutes } from "./routes.ts";

/** The echo plugin's implementation, loaded by its light definition in `mod.ts`. */
export const echoImplementation: PluginDefinition = definePlugin({
  type: echoPlugin.type,
  description: echoPlugin.description,
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
