/**
 * The built-in plugin types. They are imported statically, never discovered at run time, so a
 * binary built with `deno compile` contains every one of them.
 */
import type { PluginDefinition, PluginRegistry } from "./plugin.ts";
import { cachePlugin } from "../plugins/cache/mod.ts";
import { echoPlugin } from "../plugins/echo/mod.ts";
import { graphPlugin } from "../plugins/graph/mod.ts";
import { messagingPlugin } from "../plugins/messaging/mod.ts";
import { observabilityPlugin } from "../plugins/observability/mod.ts";
import { storagePlugin } from "../plugins/storage/mod.ts";

const builtins: PluginDefinition[] = [
  observabilityPlugin,
  echoPlugin,
  messagingPlugin,
  cachePlugin,
  graphPlugin,
  storagePlugin,
];

/** Every built-in plugin type by name. */
export const builtinPlugins: PluginRegistry = new Map(builtins.map((p) => [p.type, p]));
