/**
 * Runs plugin instances: creates them in dependency order, starts them with timeouts and a
 * retry budget, probes their health, reconnects degraded ones with backoff, and stops them in
 * reverse order. Knows plugins only through the contract in `core/plugin.ts`.
 *
 * The serving set can change while edgebox runs (`core/reload.ts`): an instance is prepared and
 * launched beside the serving ones, committed into the serving set once ready, and an instance
 * that left the set is retired (drained, then stopped). The data directory and its lock belong to
 * the lifecycle, not to a generation of instances.
 */
import type { EdgeboxConfig, PluginInstanceConfig } from "./config.ts";
import { planDependencies, requiredTypes } from "./dependency_order.ts";
import type { Logger } from "./log.ts";
import { type DataDir, DataDirectory, dataDirPath } from "./data_dir.ts";
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
  /** The config generation that created it: 1 at boot, then one more per applied reload. */
  readonly generation: number;
  /** Requests the app is handling for it (counted until their response is produced). */
  inFlight: number;
  /** Names of the files it took in the data directory (`ctx.dataDir.file`). */
  readonly dataFiles: ReadonlySet<string>;
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
  readonly #registry: PluginRegistry;
  /** The serving set, in start order. */
  readonly #plugins: ManagedPlugin[] = [];
  /** Every instance created and not yet stopped: the serving set, and those joining or leaving. */
  readonly #live = new Set<ManagedPlugin>();
  readonly #controllers = new Map<ManagedPlugin, AbortController>();
  /** Per instance, aborted when it alone drains (it left the serving set). */
  readonly #ownDraining = new Map<ManagedPlugin, AbortController>();
  readonly #monitors = new Map<ManagedPlugin, Promise<void>>();
  readonly #hooks = new Set<Promise<unknown>>();
  /** Per instance, the start attempt still running (past its timeout, perhaps). */
  readonly #attempts = new Map<ManagedPlugin, Promise<void>>();
  /** Retirements under way, which a stop waits for. */
  readonly #retiring = new Set<Promise<unknown>>();
  readonly #draining = new AbortController();
  readonly #stateGauge: Gauge;
  /** Metrics and tracing shared by the core and every plugin. */
  readonly telemetry: TelemetryHub;
  readonly #onStateChange: StateListener | undefined;
  /** The config's secrets, scrubbed from every output until this lifecycle has stopped. */
  #secrets: Disposable;
  /** `server.dataDir`, locked by the first instance that asks for a file in it. */
  readonly #dataDir: DataDirectory;
  #stopping: Promise<Error[]> | undefined;

  constructor(config: EdgeboxConfig, options: LifecycleOptions) {
    // First of all, so that nothing a plugin logs or reports, even from `create`, shows them.
    this.#secrets = rememberSecrets(config);
    try {
      this.#log = options.log;
      this.#registry = options.registry;
      this.#dataDir = new DataDirectory(dataDirPath(config.server.dataDir));
      this.#onStateChange = options.onStateChange;
      const hub = this.telemetry = options.telemetry ?? new TelemetryHub();
      this.#stateGauge = hub.gauge(
        "edgebox_plugin_state",
        "1 for the state each plugin instance is in, 0 for the others",
        ["instance", "type", "backend", "state"],
      );
      const enabled = config.plugins.filter((p) => p.enabled);
      for (const name of startOrder(enabled, options.registry)) {
        const plugin = this.#create(enabled.find((p) => p.name === name)!, 1);
        if (plugin.instance.telemetry) hub.install(plugin.instance.telemetry);
        this.#plugins.push(plugin);
      }
      this.#plugins.splice(0, this.#plugins.length, ...telemetryFirst(this.#plugins));
    } catch (error) {
      this.#secrets[Symbol.dispose]();
      throw error;
    }
  }

  /** Creates one instance (no I/O: that is `start`'s job); it serves nothing yet. */
  #create(settings: PluginInstanceConfig, generation: number): ManagedPlugin {
    const { name } = settings;
    const hub = this.telemetry;
    const definition = this.#registry.get(settings.type);
    if (!definition) throw new StartupError(`Unknown plugin type "${settings.type}"`);
    const controller = new AbortController();
    const ownDraining = new AbortController();
    const requires = definition.requires ?? [];
    const metrics = labelledMetrics(hub, { instance: name });
    // The lock stays the lifecycle's; the instance's view records the files it takes, so a
    // reload knows that its next generation cannot open them while this one runs.
    const dataFiles = new Set<string>();
    const dataDir: DataDir = {
      path: this.#dataDir.path,
      file: (file) => {
        const path = this.#dataDir.file(file);
        dataFiles.add(file);
        return path;
      },
    };
    const instance = definition.create({
      name,
      type: settings.type,
      config: settings.config,
      log: this.#log.child({ plugin: name }),
      metrics,
      instrument: (driver, extra) =>
        instrumentDriver(driver, { hub, type: settings.type, metrics, ...extra }),
      span: (spanName, attributes, work) => withSpan(hub, spanName, attributes, work),
      traceHeaders: () => traceHeaders(hub),
      withTraceParent: (headers, work) => withRemoteParent(hub, headers, work),
      signal: controller.signal,
      draining: AbortSignal.any([this.#draining.signal, ownDraining.signal]),
      dataDir,
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
    const backend = definition.backends?.length
      ? (settings.config as { backend: string }).backend
      : undefined;
    const plugin: ManagedPlugin = {
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
      generation,
      inFlight: 0,
      dataFiles,
    };
    this.#controllers.set(plugin, controller);
    this.#ownDraining.set(plugin, ownDraining);
    this.#live.add(plugin);
    return plugin;
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

  /** True once {@linkcode Lifecycle.stop} was called. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Creates an instance of `settings` beside the serving set, for a reload: it serves nothing
   * until {@linkcode Lifecycle.commit} puts it in the set. Throws what the plugin's `create` threw.
   */
  prepare(settings: PluginInstanceConfig, generation: number): ManagedPlugin {
    if (this.#stopping) throw new Error("edgebox is stopping");
    return this.#create(settings, generation);
  }

  /**
   * Starts a prepared instance (with its retry budget) and probes it: resolves to `undefined`
   * once it is ready, or to why it is not (it is then `failed`; retire it to release what it
   * half-opened). A ready instance is monitored from then on like any other.
   */
  async launch(plugin: ManagedPlugin): Promise<string | undefined> {
    const started = performance.now();
    this.#setState(plugin, "starting", undefined);
    const error = await this.#startWithRetries(plugin);
    if (this.#stopping) return "edgebox is stopping";
    const health = error === undefined ? await this.#probe(plugin) : undefined;
    if (this.#stopping) return "edgebox is stopping";
    if (error !== undefined || health?.status !== "ready") {
      const reason = redactText(
        error !== undefined
          ? `Cannot start plugin "${plugin.name}" (${plugin.type}${
            plugin.backend ? `, ${plugin.backend}` : ""
          }): ${messageOf(error)}`
          : `Plugin "${plugin.name}" started but is ${health?.status}${
            health?.detail ? `: ${health.detail}` : ""
          }`,
      );
      this.#setState(plugin, "failed", reason);
      return reason;
    }
    this.#setState(plugin, "ready", undefined);
    this.#log.info("plugin started", {
      plugin: plugin.name,
      type: plugin.type,
      backend: plugin.backend,
      state: plugin.state,
      generation: plugin.generation,
      ms: Math.round(performance.now() - started),
    });
    this.#monitor(plugin, false);
    return undefined;
  }

  /**
   * Makes `plugins` the serving set, in this order (telemetry providers first). What it
   * replaces keeps running until retired; an instance new to the set installs its telemetry.
   */
  commit(plugins: readonly ManagedPlugin[]): void {
    const joining = plugins.filter((p) => !this.#plugins.includes(p));
    this.#plugins.splice(0, this.#plugins.length, ...telemetryFirst(plugins));
    for (const plugin of joining) {
      if (plugin.instance.telemetry) this.telemetry.install(plugin.instance.telemetry);
      this.#showState(plugin);
    }
  }

  /**
   * Drains and stops an instance that left the serving set (or never joined it): its `draining`
   * signal aborts (streams end), the requests it is handling get up to `graceMs` to finish,
   * then its monitor ends and its stop hook runs. `reason` is shown while it stops.
   */
  retire(plugin: ManagedPlugin, graceMs: number, reason?: string): Promise<Error | undefined> {
    const retiring = this.#retire(plugin, graceMs, reason);
    this.#retiring.add(retiring);
    void retiring.finally(() => this.#retiring.delete(retiring));
    return retiring;
  }

  async #retire(
    plugin: ManagedPlugin,
    graceMs: number,
    reason: string | undefined,
  ): Promise<Error | undefined> {
    if (!this.#live.has(plugin)) return undefined;
    const failed = plugin.state === "failed";
    if (!failed) this.#setState(plugin, "stopping", reason);
    this.#ownDraining.get(plugin)?.abort();
    const deadline = Date.now() + graceMs;
    while (plugin.inFlight > 0 && Date.now() < deadline && !this.#stopping) await sleep(10);
    if (plugin.inFlight > 0) {
      this.#log.warn("requests still in flight when the instance stops", {
        plugin: plugin.name,
        generation: plugin.generation,
        inFlight: plugin.inFlight,
      });
    }
    this.#controllers.get(plugin)?.abort();
    await Promise.allSettled([this.#monitors.get(plugin), this.#attempts.get(plugin)]);
    return await this.#stopOne(plugin);
  }

  /**
   * Remembers the secrets of a config that replaces the running one; the returned function
   * forgets those of the config before it (call it once what used them has stopped).
   */
  adoptSecrets(config: EdgeboxConfig): () => void {
    const previous = this.#secrets;
    this.#secrets = rememberSecrets(config);
    return () => previous[Symbol.dispose]();
  }

  async #stopAll(): Promise<Error[]> {
    this.#draining.abort();
    for (const controller of this.#controllers.values()) controller.abort();
    // A start hook still running would connect after its stop hook ran: let it settle first
    // (each is bounded by its own timeout). A retirement under way ends on its own.
    await Promise.allSettled([
      ...this.#monitors.values(),
      ...this.#hooks,
      ...this.#retiring,
    ]);
    const errors: Error[] = [];
    const serving = [...this.#plugins].reverse();
    for (const plugin of [...serving, ...[...this.#live].filter((p) => !serving.includes(p))]) {
      const error = await this.#stopOne(plugin);
      if (error) errors.push(error);
    }
    this.#dataDir[Symbol.dispose]();
    this.#secrets[Symbol.dispose]();
    return errors;
  }

  /** Runs one instance's stop hook under its timeout, once; resolves to its error, if any. */
  async #stopOne(plugin: ManagedPlugin): Promise<Error | undefined> {
    if (!this.#live.delete(plugin)) return undefined;
    this.#controllers.delete(plugin);
    this.#ownDraining.delete(plugin);
    if (plugin.state === "stopped" && plugin.detail === "not started") return undefined;
    // A plugin whose start failed is still stopped (to release what it half-opened), but its
    // state stays `failed` so reports say what happened.
    const failed = plugin.state === "failed";
    if (!failed && plugin.state !== "stopping") this.#setState(plugin, "stopping", undefined);
    let stopError: Error | undefined;
    try {
      if (plugin.instance.stop) {
        await withTimeout(
          plugin.instance.stop,
          plugin.settings.timeouts.stop,
          `Stop hook of plugin "${plugin.name}"`,
        );
      }
    } catch (error) {
      stopError = error instanceof Error ? error : new Error(String(error));
      this.#log.error("plugin stop failed", { plugin: plugin.name, error: messageOf(error) });
    }
    if (!failed) this.#setState(plugin, "stopped", undefined);
    return stopError;
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
    this.#monitors.set(plugin, running);
    void running.finally(() => {
      if (this.#monitors.get(plugin) === running) this.#monitors.delete(plugin);
    });
  }

  /** Runs a plugin's start hook under its timeout, tracked so `stop` can wait for it. */
  async #runStart(plugin: ManagedPlugin): Promise<void> {
    const start = plugin.instance.start;
    if (!start) return;
    // An attempt that overran its timeout may still be connecting: the next one waits for it
    // (its signal was aborted, so a hook that listens ends promptly) rather than run beside it.
    const previous = this.#attempts.get(plugin);
    if (previous) {
      this.#log.warn("waiting for the previous start attempt to finish", { plugin: plugin.name });
      await previous;
    }
    const { result, settled } = timedHook(
      start,
      plugin.settings.timeouts.start,
      `Start hook of plugin "${plugin.name}"`,
    );
    this.#attempts.set(plugin, settled);
    this.#hooks.add(settled);
    void settled.then(() => {
      this.#hooks.delete(settled);
      if (this.#attempts.get(plugin) === settled) this.#attempts.delete(plugin);
    });
    await result;
  }

  #signal(plugin: ManagedPlugin): AbortSignal {
    return this.#controllers.get(plugin)?.signal ?? AbortSignal.abort();
  }

  /**
   * Whether the state gauge follows this instance: one that serves, or one whose name no serving
   * instance has (a new one starting). Two generations of a name never fight over its series.
   */
  #shown(plugin: ManagedPlugin): boolean {
    return this.#plugins.includes(plugin) || !this.#plugins.some((p) => p.name === plugin.name);
  }

  /** Sets the state gauge of a name to what this instance says (it just joined the set). */
  #showState(plugin: ManagedPlugin): void {
    const labels = { instance: plugin.name, type: plugin.type, backend: plugin.backend ?? "" };
    for (const state of PLUGIN_STATES) {
      this.#stateGauge.set(state === plugin.state ? 1 : 0, { ...labels, state });
    }
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
      if (this.#shown(plugin)) {
        const labels = { instance: plugin.name, type: plugin.type, backend: plugin.backend ?? "" };
        this.#stateGauge.set(0, { ...labels, state: previous });
        this.#stateGauge.set(1, { ...labels, state });
      }
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

const PLUGIN_STATES: readonly PluginState[] = [
  "starting",
  "ready",
  "degraded",
  "failed",
  "stopping",
  "stopped",
];

/** Instance names in dependency order; throws when there is none (a config built in code). */
export function startOrder(
  enabled: readonly PluginInstanceConfig[],
  registry: PluginRegistry,
): string[] {
  const plan = planDependencies(enabled.map((p) => ({
    name: p.name,
    type: p.type,
    requires: requiredTypes(registry.get(p.type)?.requires ?? [], enabled, registry),
  })));
  // parseConfig already refused these; this guards configs built in code.
  if (!plan.ok) throw new StartupError(`Cannot order plugins: ${JSON.stringify(plan.problems)}`);
  return plan.order;
}

/**
 * Telemetry providers with no dependencies start first and stop last, so they see (and flush)
 * everything the other plugins record, whatever the config's order.
 */
function telemetryFirst(plugins: readonly ManagedPlugin[]): ManagedPlugin[] {
  const first = plugins.filter((p) => p.instance.telemetry && !p.definition.requires?.length);
  return [...first, ...plugins.filter((p) => !first.includes(p))];
}
