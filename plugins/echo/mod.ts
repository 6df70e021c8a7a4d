/**
 * The echo plugin: a tiny plugin that uses every part of the contract (a backend, routes, start,
 * ready, stop, exports). It is the smallest worked example of a declaration.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import { type EchoConfig, MemoryEchoConfig } from "./config.ts";

/** The echo plugin definition; its implementation (`plugin.ts`) loads when an instance is enabled. */
export const echoPlugin = lazyPlugin<EchoConfig>({
  type: "echo",
  description: "Echoes requests back; the example plugin that exercises every lifecycle hook",
  config: { memory: MemoryEchoConfig },
  load: async () => (await import("./plugin.ts")).echoImplementation,
});
