/**
 * Plugin types whose implementation loads only when an enabled instance uses it. A plugin's
 * routes, drivers and their dependencies (prom-client, the OpenTelemetry SDK, the OpenAPI route
 * tables) cost tens of milliseconds and megabytes each to evaluate; a binary that serves only
 * `echo` should pay for none of the others. What the config needs (the type, its config schema,
 * what it requires and provides) stays in a light module that is always loaded; the rest is
 * behind `load`. Write `load` with a literal `import("./plugin.ts")`: a literal specifier stays
 * in the `deno compile` graph, a computed one does not.
 */
import { z } from "zod";
import {
  backendsConfig,
  type PluginContext,
  type PluginDefinition,
  type PluginInstance,
  type PluginRegistry,
  type Provision,
  type Requirement,
} from "./plugin.ts";

/** The always-loaded half of a plugin type, and how to load the other half. */
export interface LazyPluginDeclaration<Config> {
  type: string;
  description: string;
  /**
   * The config block: one schema (a plugin declared with `create`) or, by backend name, each
   * backend's block, as its `defineBackend` has it (the core builds the union, as
   * `definePlugin` does).
   */
  config: z.ZodType<Config> | Readonly<Record<string, z.ZodType>>;
  requires?: readonly Requirement[];
  provides?: readonly Provision[];
  /**
   * Imports the implementation: a definition of the same type (and the same backends) whose
   * config schema accepts what this one's does.
   */
  load(): Promise<PluginDefinition>;
}

/**
 * A plugin definition whose `create` delegates to the definition `load` imports. The core calls
 * `load` (through {@linkcode loadPlugins}) before it creates an instance; `create` before that
 * is a programming error and throws.
 */
export function lazyPlugin<Config, Exports = unknown>(
  declaration: LazyPluginDeclaration<Config>,
): PluginDefinition<z.ZodType<Config>, Exports> {
  const { type, config } = declaration;
  const backends = config instanceof z.ZodType ? undefined : Object.keys(config);
  let loaded: PluginDefinition | undefined;
  let loading: Promise<void> | undefined;
  return {
    type,
    description: declaration.description,
    config:
      (config instanceof z.ZodType ? config : backendsConfig(Object.values(config))) as z.ZodType<
        Config
      >,
    ...(backends ? { backends } : {}),
    requires: declaration.requires ?? [],
    provides: declaration.provides ?? [],
    create(ctx: PluginContext<Config>): PluginInstance<Exports> {
      if (!loaded) {
        throw new Error(`Plugin type "${type}" is not loaded yet: await loadPlugins() first`);
      }
      return loaded.create(ctx) as PluginInstance<Exports>;
    },
    load: () =>
      loading ??= declaration.load().then((definition) => {
        checkSameType(definition, type, backends);
        loaded = definition;
      }, (error) => {
        loading = undefined; // a later load tries again
        throw error;
      }),
  };
}

/** The implementation must be the type the light half promised. */
function checkSameType(
  definition: PluginDefinition,
  type: string,
  backends: readonly string[] | undefined,
): void {
  const same = (a: readonly string[] = [], b: readonly string[] = []) =>
    a.length === b.length && a.every((name) => b.includes(name));
  if (definition.type !== type || !same(definition.backends, backends)) {
    throw new TypeError(
      `Plugin type "${type}" loaded the definition of "${definition.type}" with backends ${
        JSON.stringify(definition.backends ?? [])
      }, not ${JSON.stringify(backends ?? [])}`,
    );
  }
}

/**
 * Loads the implementation of every plugin type in `types` that has one to load (see the
 * module doc); the core calls it with the types of the enabled instances before it creates
 * them. An unknown type is left to the config check, which names it.
 */
export async function loadPlugins(
  registry: PluginRegistry,
  types: Iterable<string>,
): Promise<void> {
  await Promise.all([...new Set(types)].map((type) => registry.get(type)?.load?.()));
}

/** The plugin types of a config's enabled instances. */
export function enabledTypes(config: { plugins: readonly { type: string; enabled: boolean }[] }) {
  return config.plugins.filter((p) => p.enabled).map((p) => p.type);
}
