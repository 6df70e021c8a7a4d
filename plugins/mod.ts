/**
 * The built-in plugin types. They are imported statically, never discovered at run time, so a
 * binary built with `deno compile` contains every one of them. The core knows none of them: they
 * reach it only through `main(args, { plugins })`, as a third party's plugins do.
 */
import { type PluginDefinition, type PluginRegistry, registryOf } from "../core/plugin.ts";
import { cachePlugin } from "./cache/mod.ts";
import { echoPlugin } from "./echo/mod.ts";
import { graphPlugin } from "./graph/mod.ts";
import { messagingPlugin } from "./messaging/mod.ts";
import { observabilityPlugin } from "./observability/mod.ts";
import { storagePlugin } from "./storage/mod.ts";

/** Every built-in plugin type, in the order `edgebox plugins` lists them. */
export const builtinPlugins: readonly PluginDefinition[] = Object.freeze([
  observabilityPlugin,
  echoPlugin,
  messagingPlugin,
  cachePlugin,
  graphPlugin,
  storagePlugin,
]);

/** The built-in plugin types by name. */
export const builtinRegistry: PluginRegistry = registryOf(builtinPlugins);
