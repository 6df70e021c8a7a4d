/**
 * Runs plugin instances: creates them in dependency order, starts them with timeouts and a
 * retry budget, probes their health, reconnects degraded ones with backoff, and stops them in
 * reverse order. Knows plugins only through the contract in `core/plugin.ts`.
 */
import type { EdgeboxConfig, PluginInstanceConfig } from "./config.ts";
import { planDependencies, requiredTypes } from "./dependency_order.ts";
import type { Logger } from "./log.ts";
import { DataDirectory, dataDirPath } from "./data_dir.ts";
import type { Gauge } from "./metrics.ts";
import { redactText, rememberSecrets } from "./redact.ts";
import {
  instrumentDriver,
  labelledMetrics,
  TelemetryHub,
  traceHeaders,
  withRemoteParent,
  withSpan,
} from "./telemetry.ts";
import {
  type Capability,
  type HealthReport,
  PermanentStartError,
  type PluginDefinition,
  type PluginInstance,
  type PluginRegistry,
  type PluginState,
  type Requirement,
  requirementName,
} from "./plugin.ts";
import { backoff, messageOf, sleep, timedHook, withTimeout } from "./timing.ts";

/** A running (or stopped) plugin instance as the core tracks it. */
export interface ManagedPlugin {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  /** The `backend` field of its config, when it has one. */
  readonly backend: string | undefined;
  readonly settings: PluginInstanceConfig;
  readonly definition: PluginDefinition;
  readonly instance: PluginInstance;
  state: PluginState;
  /** Why it is not ready, when it is not. */
  detail: string | undefined;
  /** When the state last changed. */
  since: Date;
  /** When the next reconnect attempt runs (epoch ms), while degraded. */
  nextAttemptAt: number | undefined;
}

/** A required plugin could not start; the message is the one line edgebox exits with. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** Called on every state change (metrics and tests listen). */
export type StateListener = (plugin: ManagedPlugin, previous: PluginState) => void;

/** Options of {@linkcode Lifecycle}. */
export interface LifecycleOptions {
  registry: PluginRegistry;
  log: Logger;
  /** Where metrics and spans go; a fresh hub (recording nothing until a backend installs). */
  telemetry?: TelemetryHub;
  onStateChange?: StateListener;
}

/** Owns every enabled plugin instance from creation to stop. */
export class Lifecycle {
  readonly #log: Logger;
  readonly #plugins: ManagedPlugin[] = [];
  readonly #controllers = new Map<string, AbortController>();
  readonly #monitors = new Set<Promise<void>>();
  readonly #hooks = new Set<Promise<unknown>>();
  /** Per instance, the start attempt still running (past its timeout, perhaps). */
  readonly #attempts = new Map<string, Promise<void>>();
  readonly #draining = new AbortController();
  readonly #stateGauge: Gauge;
  /** Metrics and tracing shared by the core and every plugin. */
  readonly telemetry: TelemetryHub;
  readonly #onStateChange: StateListener | undefined;
  /** The config's secrets, scrubbed from every output until this lifecycle has stopped. */
  readonly #secrets: Disposable;
  /** `server.dataDir`, locked by the first instance that asks for a file in it. */
  readonly #dataDir: DataDirectory;
  #stopping: Promise<Error[]> | undefined;

  constructor(config: EdgeboxConfig, options: LifecycleOptions) {
    // First of all, so that nothing a plugin logs or reports, even from `create`, shows them.
    this.#secrets = rememberSecrets(config);
    try {
      this.#log = options.log;
      this.#dataDir = new DataDirectory(dataDirPath(config.server.dataDir));
      this.#onStateChange = options.onStateChange;
      const hub = this.telemetry = options.telemetry ?? new TelemetryHub();
      this.#stateGauge = hub.gauge(
        "edgebox_plugin_state",
        "1 for the state each plugin instance is in, 0 for the others",
        ["instance", "type", "backend", "state"],
      );
      const enabled = config.plugins.filter((p) => p.enabled);
      const plan = planDependencies(enabled.map((p) => ({
        name: p.name,
        type: p.type,
        requires: requiredTypes(
          options.registry.get(p.type)?.requires ?? [],
          enabled,
          options.registry,
        ),
      })));
      // parseConfig already refused these; this guards configs built in code.
      if (!plan.ok) {
        throw new StartupError(`Cannot order plugins: ${JSON.stringify(plan.problems)}`);
      }

      for (const name of plan.order) {
        const settings = enabled.find((p) => p.name === name)!;
        const definition = options.registry.get(settings.type);
        if (!definition) throw new StartupError(`Unknown plugin type "${settings.type}"`);
        const controller = new AbortController();
        this.#controllers.set(name, controller);
        const requires = definition.requires ?? [];
        const metrics = labelledMetrics(hub, { instance: name });
        const instance = definition.create({
          name,
          type: settings.type,
          config: settings.config,
          log: options.log.child({ plugin: name }),
          metrics,
          instrument: (driver, extra) =>
            instrumentDriver(driver, { hub, type: settings.type, metrics, ...extra }),
          span: (spanName, attributes, work) => withSpan(hub, spanName, attributes, work),
          traceHeaders: () => traceHeaders(hub),
          withTraceParent: (headers, work) => withRemoteParent(hub, headers, work),
          signal: controller.signal,
          draining: this.#draining.signal,
          dataDir: this.#dataDir,
          use: <T>(wanted: string | Capability<T>): T => {
            if (!requires.includes(wanted as Requirement)) {
              throw new Error(
                `Plugin "${name}" uses ${
                  requirementName(wanted as Requirement)
                } without listing it in requires`,
              );
            }
            if (typeof wanted !== "string") {
              const found = this.provider(wanted);
              if (found === undefined) {
                throw new Error(
                  `No enabled plugin provides ${requirementName(wanted as Requirement)}`,
                );
              }
              return found;
            }
            const provider = this.#plugins.find((p) => p.type === wanted);
            if (!provider) throw new Error(`No plugin of type "${wanted}" is enabled`);
            return provider.instance.exports as T;
          },
        });
        if (instance.telemetry) hub.install(instance.telemetry);
        const backend = definition.backends?.length
          ? (settings.config as { backend: string }).backend
          : undefined;
        this.#plugins.push({
          name,
          type: settings.type,
          required: settings.required,
          backend,
          settings,
          definition,
          instance,
          state: "stopped",
          detail: "not started",
          since: new Date(),
          nextAttemptAt: undefined,
        });
      }
      // Telemetry providers with no dependencies start first and stop last, so they see (and
      // flush) everything the other plugins record, whatever the config's order.
      const first = this.#plugins.filter((p) =>
        p.instance.telemetry && !p.definition.requires?.length
      );
      this.#plugins.splice(
        0,
        this.#plugins.length,
        ...first,
        ...this.#plugins.filter((p) => !first.includes(p)),
      );
    } catch (error) {
      this.#secrets[Symbol.dispose]();
      throw error;
    }
  }

  /** Instances in start order. */
  get plugins(): readonly ManagedPlugin[] {
    return this.#plugins;
  }

  /**
   * What the first instance (in start order) that provides `capability` offers, or, with a
   * name, what that instance offers; `undefined` when none does.
   */
  provider<T>(capability: Capability<T>, name?: string): T | undefined {
    for (const plugin of this.#plugins) {
      if (name !== undefined && plugin.name !== name) continue;
      const provision = plugin.definition.provides?.find((p) => p.capability === capability);
      if (provision) return provision.from(plugin.instance.exports) as T;
    }
    return undefined;
  }

  /** The instance with this name. */
  get(name: string): ManagedPlugin | undefined {
    return this.#plugins.find((p) => p.name === name);
  }

  /**
   * Starts every instance in dependency order. A required instance that exhausts its attempts
   * stops the ones already started and rejects with {@linkcode StartupError}; an optional one
   * turns `degraded` and keeps reconnecting in the background.
   */
  async start(): Promise<void> {
    for (const plugin of this.#plugins) {
      if (this.#stopping) return;
      const started = performance.now();
      this.#setState(plugin, "starting", undefined);
      const error = await this.#startWithRetries(plugin);
      if (this.#stopping) return; // a stop arrived meanwhile; it owns this plugin now
      if (error === undefined) {
        const health = await this.#probe(plugin);
        if (this.#stopping) return;
        this.#setState(plugin, health.status === "ready" ? "ready" : "degraded", health.detail);
        this.#log.info("plugin started", {
          plugin: plugin.name,
          type: plugin.type,
          backend: plugin.backend,
          state: plugin.state,
          ms: Math.round(performance.now() - started),
        });
        this.#monitor(plugin, plugin.state === "degraded");
      } else if (plugin.required) {
        this.#setState(plugin, "failed", messageOf(error));
        const line = redactText(
          `Cannot start plugin "${plugin.name}" (${plugin.type}${
            plugin.backend ? `, ${plugin.backend}` : ""
          }): ${messageOf(error)}`,
        );
        await this.stop();
        throw new StartupError(line, { cause: error });
      } else if (error instanceof PermanentStartError) {
        this.#setState(plugin, "failed", messageOf(error));
        this.#log.error("optional plugin cannot start", {
          plugin: plugin.name,
          error: messageOf(error),
        });
      } else {
        this.#setState(plugin, "degraded", messageOf(error));
        this.#log.warn("optional plugin did not start; retrying in the background", {
          plugin: plugin.name,
          error: messageOf(error),
        });
        this.#monitor(plugin, true);
      }
    }
  }

  /**
   * Stops every instance in reverse start order, each within its stop timeout, and returns
   * every error instead of stopping at the first. Calling it again returns the same result.
   */
  stop(): Promise<Error[]> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  /**
   * Aborted when edgebox stops accepting requests, or when the lifecycle stops (see
   * `PluginContext.draining`); what the core holds for the lifecycle's time ends with it too.
   */
  get draining(): AbortSignal {
    return this.#draining.signal;
  }

  /** Tells plugins edgebox stopped accepting requests (see `PluginContext.draining`). */
  beginDrain(): void {
    this.#draining.abort();
  }

  async #stopAll(): Promise<Error[]> {
    this.#draining.abort();
    for (const controller of this.#controllers.values()) controller.abort();
    // A start hook still running would connect after its stop hook ran: let it settle first
    // (each is bounded by its own timeout).
    await Promise.allSettled([...this.#monitors, ...this.#hooks]);
    const errors: Error[] = [];
    for (const plugin of [...this.#plugins].reverse()) {
      if (plugin.state === "stopped" && plugin.detail === "not started") continue;
      // A plugin whose start failed is still stopped (to release what it half-opened), but its
      // state stays `failed` so reports say what happened.
      const failed = plugin.state === "failed";
      if (!failed) this.#setState(plugin, "stopping", undefined);
      try {
        if (plugin.instance.stop) {
          await withTimeout(
            plugin.instance.stop,
            plugin.settings.timeouts.stop,
            `Stop hook of plugin "${plugin.name}"`,
          );
        }
      } catch (error) {
        errors.push(error instanceof Error ? error : new Error(String(error)));
        this.#log.error("plugin stop failed", { plugin: plugin.name, error: messageOf(error) });
      }
      if (!failed) this.#setState(plugin, "stopped", undefined);
    }
    this.#dataDir[Symbol.dispose]();
    this.#secrets[Symbol.dispose]();
    return errors;
  }

  async #startWithRetries(plugin: ManagedPlugin): Promise<unknown> {
    const { startAttempts, reconnect } = plugin.settings;
    let lastError: unknown;
    for (let attempt = 0; attempt < startAttempts; attempt++) {
      if (attempt > 0) {
        await sleep(
          backoff(attempt - 1, reconnect.initialDelay, reconnect.maxDelay),
          this.#signal(plugin),
        );
        if (this.#signal(plugin).aborted) return undefined; // stopping: not a start failure
      }
      try {
        await this.#runStart(plugin);
        return undefined;
      } catch (error) {
        lastError = error;
        this.#log.warn("plugin start attempt failed", {
          plugin: plugin.name,
          attempt: attempt + 1,
          of: startAttempts,
          error: messageOf(error),
        });
        if (error instanceof PermanentStartError) break;
      }
    }
    return lastError;
  }

  async #probe(plugin: ManagedPlugin): Promise<HealthReport> {
    if (!plugin.instance.ready) return { status: "ready" };
    try {
      return await withTimeout(
        plugin.instance.ready,
        plugin.settings.timeouts.ready,
        `Ready hook of plugin "${plugin.name}"`,
      );
    } catch (error) {
      return { status: "down", detail: messageOf(error) };
    }
  }

  /** Probes health every `healthInterval`; while degraded, re-runs `start` with backoff. */
  #monitor(plugin: ManagedPlugin, degraded: boolean): void {
    const signal = this.#signal(plugin);
    const loop = async () => {
      let failures = degraded ? 1 : 0;
      while (!signal.aborted) {
        const wait = failures === 0 ? plugin.settings.healthInterval : backoff(
          failures - 1,
          plugin.settings.reconnect.initialDelay,
          plugin.settings.reconnect.maxDelay,
        );
        plugin.nextAttemptAt = failures === 0 ? undefined : Date.now() + wait;
        await sleep(wait, signal);
        if (signal.aborted) return;
        if (failures > 0) {
          try {
            await this.#runStart(plugin);
          } catch (error) {
            failures++;
            if (!signal.aborted) this.#setState(plugin, "degraded", messageOf(error));
            continue;
          }
        }
        const health = await this.#probe(plugin);
        if (signal.aborted) return;
        if (health.status === "ready") {
          if (plugin.state !== "ready") this.#log.info("plugin recovered", { plugin: plugin.name });
          failures = 0;
          this.#setState(plugin, "ready", undefined);
        } else {
          if (plugin.state === "ready") {
            this.#log.warn("plugin degraded", { plugin: plugin.name, detail: health.detail });
          }
          failures++;
          this.#setState(plugin, "degraded", health.detail ?? health.status);
        }
      }
    };
    const running = loop().catch((error) => {
      this.#log.error("plugin monitor crashed", { plugin: plugin.name, error: messageOf(error) });
    });
    this.#monitors.add(running);
    running.finally(() => this.#monitors.delete(running));
  }

  /** Runs a plugin's start hook under its timeout, tracked so `stop` can wait for it. */
  async #runStart(plugin: ManagedPlugin): Promise<void> {
    const start = plugin.instance.start;
    if (!start) return;
    // An attempt that overran its timeout may still be connecting: the next one waits for it
    // (its signal was aborted, so a hook that listens ends promptly) rather than run beside it.
    const previous = this.#attempts.get(plugin.name);
    if (previous) {
      this.#log.warn("waiting for the previous start attempt to finish", { plugin: plugin.name });
      await previous;
    }
    const { result, settled } = timedHook(
      start,
      plugin.settings.timeouts.start,
      `Start hook of plugin "${plugin.name}"`,
    );
    this.#attempts.set(plugin.name, settled);
    this.#hooks.add(settled);
    void settled.then(() => {
      this.#hooks.delete(settled);
      if (this.#attempts.get(plugin.name) === settled) this.#attempts.delete(plugin.name);
    });
    await result;
  }

  #signal(plugin: ManagedPlugin): AbortSignal {
    return this.#controllers.get(plugin.name)!.signal;
  }

  #setState(plugin: ManagedPlugin, state: PluginState, reported: string | undefined): void {
    // A plugin's failure text often quotes its backend's URL: hide secrets before keeping it.
    const detail = reported === undefined ? undefined : redactText(reported);
    const previous = plugin.state;
    if (previous === state && plugin.detail === detail) return;
    plugin.state = state;
    plugin.detail = detail;
    if (state !== "degraded") plugin.nextAttemptAt = undefined;
    if (previous !== state) {
      plugin.since = new Date();
      const labels = { instance: plugin.name, type: plugin.type, backend: plugin.backend ?? "" };
      this.#stateGauge.set(0, { ...labels, state: previous });
      this.#stateGauge.set(1, { ...labels, state });
      this.#log.debug("plugin state", { plugin: plugin.name, from: previous, to: state, detail });
      try {
        this.#onStateChange?.(plugin, previous);
      } catch (error) {
        // A faulty listener must not stop the health monitor that called it.
        this.#log.error("state listener failed", { plugin: plugin.name, error: messageOf(error) });
      }
    }
  }
}
