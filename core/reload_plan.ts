/**
 * What a reload would change, worked out before anything changes: per plugin instance whether it
 * is unchanged, added, removed or changed (type, plugin block or shared settings differ), which
 * core settings reload and which need a restart, and the changes a reload refuses because an
 * instance that stays would lose what it depends on.
 */
import { isDeepStrictEqual } from "node:util";
import type { EdgeboxConfig, PluginInstanceConfig } from "./config.ts";
import { requiredTypes } from "./dependency_order.ts";
import { startOrder } from "./lifecycle.ts";
import type { PluginRegistry } from "./plugin.ts";

/** What a reload does to one instance. */
export type InstanceChange = "unchanged" | "added" | "removed" | "changed";

/** One instance of the running config, as the plan needs to see it. */
export interface RunningInstance {
  name: string;
  /** Its settings: the block it was created from. */
  settings: PluginInstanceConfig;
  /** Whether it provides the core's telemetry (metrics, tracing). */
  telemetry: boolean;
}

/** One instance's step: its settings before (running) and after (the new file). */
export interface InstanceStep {
  name: string;
  change: InstanceChange;
  before?: PluginInstanceConfig;
  after?: PluginInstanceConfig;
}

/** A change the plan will not make, and which instance it is about. */
export interface Refusal {
  instance: string;
  message: string;
}

/** The whole plan. */
export interface ReloadPlan {
  /** Removed instances first (in the running start order), then the new config's start order. */
  steps: InstanceStep[];
  /** Core settings that differ and take effect (`auth`, `log.level`, `server.bodyLimit`...). */
  core: string[];
  /** Settings that differ but only take effect on a restart (`server.port`...). */
  ignored: string[];
  /** Reasons to refuse the whole reload; empty when it may proceed. */
  refusals: Refusal[];
}

/** Core settings read again on a reload. */
const RELOADED: readonly (readonly [string, (c: EdgeboxConfig) => unknown])[] = [
  ["auth", (c) => c.auth],
  ["log.level", (c) => c.log.level],
  ["log.skipPaths", (c) => c.log.skipPaths],
  ["server.shutdownTimeout", (c) => c.server.shutdownTimeout],
  ["server.drainDelay", (c) => c.server.drainDelay],
  ["server.bodyLimit", (c) => c.server.bodyLimit],
  ["server.bodyTimeout", (c) => c.server.bodyTimeout],
  ["server.maxJsonDepth", (c) => c.server.maxJsonDepth],
  ["server.rateLimit", (c) => c.server.rateLimit],
];

/** Core settings fixed for the life of the process. */
const FIXED: readonly (readonly [string, (c: EdgeboxConfig) => unknown])[] = [
  ["server.host", (c) => c.server.host],
  ["server.port", (c) => c.server.port],
  ["server.dataDir", (c) => c.server.dataDir],
  ["log.format", (c) => c.log.format],
];

/** Options of {@linkcode planReload}. */
export interface PlanOptions {
  /** The config edgebox runs (its core sections; instances come from `instances`). */
  config: EdgeboxConfig;
  /** The serving instances, in start order. */
  instances: readonly RunningInstance[];
  registry: PluginRegistry;
}

/** Compares the running config with `next` (already validated) and plans the reload. */
export function planReload(next: EdgeboxConfig, options: PlanOptions): ReloadPlan {
  const { config, instances, registry } = options;
  const before = new Map(instances.map((i) => [i.name, i]));
  const enabled = next.plugins.filter((p) => p.enabled);
  const after = new Map(enabled.map((p) => [p.name, p]));

  const steps: InstanceStep[] = [];
  for (const { name, settings } of instances) {
    if (!after.has(name)) steps.push({ name, change: "removed", before: settings });
  }
  for (const name of startOrder(enabled, registry)) {
    const settings = after.get(name)!;
    const running = before.get(name)?.settings;
    const change = running === undefined
      ? "added"
      : isDeepStrictEqual(running, settings)
      ? "unchanged"
      : "changed";
    steps.push({ name, change, ...(running ? { before: running } : {}), after: settings });
  }

  const differs = (read: (c: EdgeboxConfig) => unknown) =>
    !isDeepStrictEqual(read(config), read(next));
  return {
    steps,
    core: RELOADED.filter(([, read]) => differs(read)).map(([name]) => name),
    ignored: FIXED.filter(([, read]) => differs(read)).map(([name]) => name),
    refusals: refusals(steps, {
      oldEnabled: instances.map((i) => i.settings),
      newEnabled: enabled,
      telemetry: new Set(instances.filter((i) => i.telemetry).map((i) => i.name)),
      registry,
    }),
  };
}

/**
 * An instance that stays (unchanged or changed) got what it `requires` through `ctx.use` when it
 * was created: the instances it depends on must stay the same ones, unchanged, or it would hold a
 * stopped one. Such a reload is refused rather than restarting a chain of dependents. An
 * instance that provides the core's telemetry is fixed for the same reason (the core holds it).
 */
function refusals(
  steps: readonly InstanceStep[],
  options: {
    oldEnabled: readonly PluginInstanceConfig[];
    newEnabled: readonly PluginInstanceConfig[];
    telemetry: ReadonlySet<string>;
    registry: PluginRegistry;
  },
): Refusal[] {
  const { registry } = options;
  const change = new Map(steps.map((s) => [s.name, s.change]));
  const oldDeps = dependencies(options.oldEnabled, registry);
  const newDeps = dependencies(options.newEnabled, registry);
  const found: Refusal[] = [];
  for (const step of steps) {
    if (step.change === "added" || step.change === "removed") continue;
    const was = oldDeps.get(step.name) ?? [];
    const will = newDeps.get(step.name) ?? [];
    for (const name of new Set([...was, ...will])) {
      const what = !will.includes(name)
        ? "removes"
        : !was.includes(name)
        ? "adds"
        : change.get(name) === "changed"
        ? "changes"
        : undefined;
      if (what === undefined) continue;
      found.push({
        instance: name,
        message:
          `Cannot reload: plugin "${step.name}" requires plugin "${name}", which this reload ${what}; restart edgebox to apply it`,
      });
    }
  }
  for (const name of options.telemetry) {
    const what = change.get(name);
    if (what === "changed" || what === "removed") {
      found.push({
        instance: name,
        message: `Cannot reload: plugin "${name}" provides edgebox's metrics and tracing, so ${
          what === "changed" ? "changing" : "removing"
        } it needs a restart`,
      });
    }
  }
  return found;
}

/** Instance name -> the instances it depends on (every enabled instance of a type it requires). */
function dependencies(
  enabled: readonly PluginInstanceConfig[],
  registry: PluginRegistry,
): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const instance of enabled) {
    const types = requiredTypes(registry.get(instance.type)?.requires ?? [], enabled, registry)
      .filter((type) => type !== instance.type);
    result.set(
      instance.name,
      enabled.filter((p) => types.includes(p.type)).map((p) => p.name),
    );
  }
  return result;
}
