/** The observability plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { observabilityPlugin } from "./mod.ts";
import { definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import { ObservabilityConfig } from "./config.ts";
import { createObservability } from "./instance.ts";

/** The observability plugin's implementation, loaded by its light definition in `mod.ts`. */
export const observabilityImplementation: PluginDefinition = definePlugin({
  type: observabilityPlugin.type,
  description: observabilityPlugin.description,
  config: ObservabilityConfig,
  requires: [],
  create: createObservability,
});
