/**
 * The plugin contract. A plugin is a definition (type, config schema, dependencies) and a
 * `create` function that receives everything it needs through its context and returns its
 * routes, its lifecycle hooks and what it offers other plugins.
 */
import type { DataDir } from "./data_dir.ts";
import { z } from "zod";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { PluginRoutes } from "./http_env.ts";
import type { TelemetryBackend } from "./telemetry.ts";

/** What a readiness probe says about a plugin's backend. */
export interface HealthReport {
  status: "ready" | "degraded" | "down";
  /** A short explanation, shown in `/ready`. */
  detail?: string;
}

/** The lifecycle states of a plugin instance. */
export type PluginState = "starting" | "ready" | "degraded" | "failed" | "stopping" | "stopped";

/** Everything a plugin instance receives from the core. */
export interface PluginContext<Config> {
  /** Instance name (the key under `plugins:`), also its mount path `/v1/<name>`. */
  name: string;
  /** Plugin type. */
  type: string;
  /** The instance's validated config block. */
  config: Config;
  /** A logger whose lines carry the plugin's name. */
  log: Logger;
  /** Instruments for the plugin's own metrics. */
  metrics: Metrics;
  /** Aborted when the instance stops; pass it to long-running work. */
  signal: AbortSignal;
  /**
   * Aborted when edgebox stops accepting requests, before in-flight ones are drained: end
   * long-lived responses (server-sent events, long polls) then, so shutdown does not wait on them.
   */
  draining: AbortSignal;
  /**
   * The data directory (`server.dataDir`), where an embedded backend keeps its files:
   * `dataDir.file("<instance>.db")` creates the directory, takes its lock and names the file.
   */
  dataDir: DataDir;
  /**
   * What this plugin `requires`: a capability (typed, from the first instance that provides it)
   * or the exports of the first instance of a plugin type.
   */
  use<T>(capability: Capability<T>): T;
  use<T = unknown>(type: string): T;
  /**
   * Wraps a driver so each async method call becomes a child span (`<type>.<method>`) and a
   * latency observation. `system` is the OpenTelemetry `db.system` (`redis`, `neo4j`...).
   */
  instrument<T extends object>(driver: T, options?: { system?: string }): T;
  /** Runs `work` in a child span of the current request (a no-op when tracing is off). */
  span<T>(
    name: string,
    attributes: Record<string, string | number | boolean>,
    work: () => Promise<T>,
  ): Promise<T>;
  /** The current W3C trace context as headers, to carry in an outgoing message. */
  traceHeaders(): Record<string, string>;
  /** Runs `work` as a continuation of the trace carried in a message's headers. */
  withTraceParent<T>(headers: Record<string, string>, work: () => T): T;
}

/** What `create` returns: every member is optional. */
/**
 * A start failure that retrying cannot fix (a corrupt data file, a data directory another
 * edgebox holds): the instance is not retried, and edgebox exits with this message when the
 * instance is required.
 */
export class PermanentStartError extends Error {
  override readonly name: string = "PermanentStartError";
}

export interface PluginInstance<Exports = unknown> {
  /** The sub-app mounted at `/v1/<name>`, complete before it is returned. */
  routes?: PluginRoutes;
  /**
   * Connects to the backend and prepares it; must be idempotent (it is retried). `signal` aborts
   * when the attempt overruns `timeouts.start`: stop connecting then, since the next attempt
   * waits for this one to finish.
   */
  start?: (signal: AbortSignal) => void | Promise<void>;
  /** A cheap probe of the backend. */
  ready?: () => HealthReport | Promise<HealthReport>;
  /** Drains and disconnects; must be safe to call twice. */
  stop?: () => void | Promise<void>;
  /** What other plugins get from `ctx.use(type)`. */
  exports?: Exports;
  /**
   * Largest request body its routes accept, when it differs from `server.bodyLimit` (object
   * storage takes gigabytes; the limit is still enforced while the body streams).
   */
  bodyLimit?: number;
  /**
   * Routes mounted at the root instead of `/v1/<name>` (Prometheus expects `/metrics`), with the
   * scope they require (`undefined`: public).
   */
  rootRoutes?: { routes: PluginRoutes; scope?: string };
  /**
   * The scope a route needs when it is not the default `<name>:read` (GET, HEAD) or
   * `<name>:write`; `path` is relative to the mount (`/log-level`). `undefined`: the default.
   */
  routeScope?: (method: string, path: string) => string | undefined;
  /** Metrics and tracing backends this plugin provides to the core and every other plugin. */
  telemetry?: TelemetryBackend;
}

/** A plugin type, as the runtime's registry holds it. */
export interface PluginDefinition<
  Schema extends z.ZodType = z.ZodType,
  Exports = unknown,
> {
  /** Type name, also the default instance name. */
  type: string;
  /** One line for `edgebox plugins` and the docs. */
  description: string;
  /** Schema of the plugin's own config fields (a union over `backend` when it has backends). */
  config: Schema;
  /** The names of its backends, the values of its config's `backend` field (none: no field). */
  backends?: readonly string[];
  /**
   * What must be ready first: plugin types, or capabilities (then whichever enabled instance
   * provides them). A requirement no enabled instance meets is a config error.
   */
  requires?: readonly Requirement[];
  /** Capabilities it offers other plugins and the core, each built from the instance's exports. */
  provides?: readonly Provision[];
  /** Builds one instance; must not do I/O (that belongs in `start`). */
  create(ctx: PluginContext<z.output<Schema>>): PluginInstance<Exports>;
  /**
   * Loads what `create` needs, when the definition is a light stand-in for modules that load
   * on demand (`lazyPlugin`, in `core/lazy_plugin.ts`). The core awaits it before
   * it creates the first instance of the type; without it, everything is loaded already.
   */
  load?(): Promise<void>;
}

/**
 * A named, typed ability one plugin offers others and the core (the cache's rate-limit counter,
 * its key-value store): what a plugin asks for by token instead of by duck typing an export.
 */
export interface Capability<T> {
  /** Unique name, such as `edgebox.rateLimit`. */
  readonly id: string;
  /** Never set; carries `T` for the type checker. */
  readonly __type?: T;
}

/** What a plugin may require: a plugin type by name, or a capability. */
export type Requirement = string | Capability<unknown>;

/** The name a requirement is reported under (`cache`, `capability edgebox.rateLimit`). */
export function requirementName(requirement: Requirement): string {
  return typeof requirement === "string" ? requirement : `capability ${requirement.id}`;
}

/** Declares a capability token. */
export function defineCapability<T>(id: string): Capability<T> {
  return Object.freeze({ id });
}

/** A capability a plugin type provides, built from one instance's exports. */
export interface Provision {
  readonly capability: Capability<unknown>;
  readonly from: (exports: unknown) => unknown;
}

/** Pairs a capability with how an instance's exports offer it. */
export function provide<T, Exports>(
  capability: Capability<T>,
  from: (exports: Exports) => T,
): Provision {
  return { capability, from: from as (exports: unknown) => unknown };
}

/** What every backend's driver does for the core, which calls it from the lifecycle hooks. */
export interface Driver {
  /**
   * Connects and prepares the backend (`start`); idempotent, since it is retried. `signal`
   * aborts when the attempt overruns its timeout.
   */
  connect(signal?: AbortSignal): void | Promise<void>;
  /** A cheap probe of the backend (`ready`). */
  ping(): HealthReport | Promise<HealthReport>;
  /** Drains and disconnects (`stop`); safe to call twice. */
  close(): void | Promise<void>;
}

/** One backend of a plugin type: its config block and how to build its driver from it. */
export interface BackendDefinition<Schema extends z.ZodType, D extends Driver> {
  /**
   * The whole config block of this backend, `backend: z.literal(<its name>)` included, as a
   * strict object: the core builds the plugin's union over `backend` from these.
   */
  config: Schema;
  /**
   * The OpenTelemetry `db.system` of the driver's calls (`redis`, `neo4j`); left out, the calls
   * are still timed and traced, without one.
   */
  system?: string;
  /**
   * `false` leaves the driver's calls untimed and untraced: for a driver with nothing to measure
   * (in process, synchronous), where wrapping each call would only cost. Default: instrumented.
   */
  instrument?: boolean;
  /** Builds the driver; must not do I/O (that belongs in `connect`). */
  create(ctx: PluginContext<z.output<Schema>>): D;
}

/** Declares a backend; the identity function that gives `create` its config type. */
export function defineBackend<Schema extends z.ZodType, D extends Driver>(
  backend: BackendDefinition<Schema, D>,
): BackendDefinition<Schema, D> {
  return backend;
}

/** A set of backends, by name. */
// deno-lint-ignore no-explicit-any
type Backends = Record<string, BackendDefinition<any, Driver>>;

/** The config of any backend of a set. */
export type ConfigOf<B extends Backends> = {
  [K in keyof B]: B[K] extends BackendDefinition<infer S, Driver> ? z.output<S> : never;
}[keyof B];

/** The driver of any backend of a set. */
export type DriverOf<B extends Backends> = {
  [K in keyof B]: B[K] extends BackendDefinition<z.ZodType, infer D> ? D : never;
}[keyof B];

/** A plugin type declared by its backends: the core selects, instruments and wires the driver. */
export interface BackendPluginDeclaration<B extends Backends, Exports> {
  type: string;
  description: string;
  requires?: readonly Requirement[];
  /** Backend name -> backend; the first is the one listed first in docs. */
  backends: B;
  /** The sub-app mounted at `/v1/<instance>`, built against the (instrumented) driver. */
  routes?(driver: DriverOf<B>, ctx: PluginContext<ConfigOf<B>>): PluginRoutes;
  /** What other plugins get from `ctx.use(type)`: a narrowing of the driver. */
  api?(driver: DriverOf<B>, ctx: PluginContext<ConfigOf<B>>): Exports;
  /** Capabilities built from `api`'s exports. */
  provides?: readonly Provision[];
  /** Largest request body of its routes, when it differs from `server.bodyLimit`. */
  bodyLimit?(config: ConfigOf<B>): number | undefined;
  /** See {@linkcode PluginInstance.routeScope}. */
  routeScope?(method: string, path: string): string | undefined;
  /**
   * Routes mounted at the root or, public, under the instance's own mount (see
   * {@linkcode PluginInstance.rootRoutes}), built against the driver; `undefined`: none.
   */
  rootRoutes?(
    driver: DriverOf<B>,
    ctx: PluginContext<ConfigOf<B>>,
  ): { routes: PluginRoutes; scope?: string } | undefined;
}

/** Declares a plugin type, either by its backends (the usual way) or by a `create` function. */
export function definePlugin<B extends Backends, Exports = undefined>(
  declaration: BackendPluginDeclaration<B, Exports>,
): PluginDefinition<z.ZodType<ConfigOf<B>>, Exports>;
export function definePlugin<Schema extends z.ZodType, Exports = unknown>(
  definition: PluginDefinition<Schema, Exports>,
): PluginDefinition<Schema, Exports>;
export function definePlugin(
  declaration: PluginDefinition | BackendPluginDeclaration<Backends, unknown>,
): PluginDefinition {
  return "backends" in declaration && !("create" in declaration)
    ? fromBackends(declaration)
    : declaration as PluginDefinition;
}

/**
 * The config schema of a plugin type with backends: the one backend's block, or the union of
 * the blocks over their `backend` field.
 */
export function backendsConfig(blocks: readonly z.ZodType[]): z.ZodType {
  const schemas = blocks as unknown as [z.ZodObject, ...z.ZodObject[]];
  return schemas.length === 1 ? schemas[0] : z.discriminatedUnion("backend", schemas);
}

/** Compiles a backend declaration into the lifecycle's contract. */
function fromBackends(declaration: BackendPluginDeclaration<Backends, unknown>): PluginDefinition {
  const entries = Object.entries(declaration.backends);
  if (entries.length === 0) {
    throw new TypeError(`Plugin type "${declaration.type}" declares no backends`);
  }
  return {
    type: declaration.type,
    description: declaration.description,
    config: backendsConfig(entries.map(([, backend]) => backend.config)),
    backends: entries.map(([name]) => name),
    requires: declaration.requires ?? [],
    provides: declaration.provides ?? [],
    create(ctx) {
      const config = ctx.config as { backend: string };
      const backend = declaration.backends[config.backend]!;
      const driver = backend.create(ctx);
      const used = backend.instrument === false
        ? driver
        : ctx.instrument(driver, backend.system ? { system: backend.system } : {});
      const routes = declaration.routes?.(used, ctx as never);
      const exports = declaration.api?.(used, ctx as never);
      const bodyLimit = declaration.bodyLimit?.(ctx.config as never);
      const rootRoutes = declaration.rootRoutes?.(used, ctx as never);
      return {
        start: (signal) => driver.connect(signal),
        ready: () => driver.ping(),
        stop: () => driver.close(),
        ...(routes ? { routes } : {}),
        ...(exports === undefined ? {} : { exports }),
        ...(bodyLimit === undefined ? {} : { bodyLimit }),
        ...(declaration.routeScope ? { routeScope: declaration.routeScope } : {}),
        ...(rootRoutes ? { rootRoutes } : {}),
      };
    },
  };
}

/** The plugin types a runtime knows, by type name. */
export type PluginRegistry = ReadonlyMap<string, PluginDefinition>;

/** The registry of a plugin list; two definitions of one type are a mistake, refused. */
export function registryOf(plugins: readonly PluginDefinition[]): PluginRegistry {
  const registry = new Map<string, PluginDefinition>();
  for (const plugin of plugins) {
    if (registry.has(plugin.type)) {
      throw new TypeError(`Two plugin definitions have the type "${plugin.type}"`);
    }
    registry.set(plugin.type, plugin);
  }
  return registry;
}
