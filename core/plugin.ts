/**
 * The plugin contract. A plugin is a definition (type, config schema, dependencies) and a
 * `create` function that receives everything it needs through its context and returns its
 * routes, its lifecycle hooks and what it offers other plugins.
 */
import type { z } from "zod";
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
  /** The exports of the first instance of a type this plugin `requires`. */
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
export interface PluginInstance<Exports = unknown> {
  /** The sub-app mounted at `/v1/<name>`, complete before it is returned. */
  routes?: PluginRoutes;
  /** Connects to the backend and prepares it; must be idempotent (it is retried). */
  start?: () => void | Promise<void>;
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

/** A plugin type, as registered in `core/registry.ts`. */
export interface PluginDefinition<
  Schema extends z.ZodType = z.ZodType,
  Exports = unknown,
> {
  /** Type name, also the default instance name. */
  type: string;
  /** One line for `edgebox plugins` and the docs. */
  description: string;
  /** Schema of the plugin's own config fields (usually a union over `backend`). */
  config: Schema;
  /** Plugin types whose instances must be ready first. */
  requires?: readonly string[];
  /** Builds one instance; must not do I/O (that belongs in `start`). */
  create(ctx: PluginContext<z.output<Schema>>): PluginInstance<Exports>;
}

/** Declares a plugin; the identity function that gives `create` its config type. */
export function definePlugin<Schema extends z.ZodType, Exports = unknown>(
  definition: PluginDefinition<Schema, Exports>,
): PluginDefinition<Schema, Exports> {
  return definition;
}

/** The plugin types a runtime knows, by type name. */
export type PluginRegistry = ReadonlyMap<string, PluginDefinition>;
