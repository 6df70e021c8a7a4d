/**
 * The echo plugin: a tiny plugin that uses every part of the contract (config schema, routes,
 * start, ready, stop, exports). It is the worked example in the README's authoring guide.
 */
import { definePlugin } from "../../core/plugin.ts";
import { EchoConfig } from "./config.ts";
import type { EchoDriver } from "./driver.ts";
import { MemoryEcho } from "./memory.ts";
import { echoRoutes } from "./routes.ts";

/** The echo plugin definition. */
export const echoPlugin = definePlugin({
  type: "echo",
  description: "Echoes requests back; the example plugin that exercises every lifecycle hook",
  config: EchoConfig,
  backends: ["memory"],
  requires: [],
  create(ctx) {
    const driver: EchoDriver = new MemoryEcho({
      connectDelay: ctx.config.connectDelay,
      signal: ctx.signal,
    });
    return {
      routes: echoRoutes(driver, ctx.config),
      start: () => driver.connect(),
      ready: () => driver.ping(),
      stop: () => driver.close(),
      exports: driver,
    };
  },
});
