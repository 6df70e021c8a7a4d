/**
 * Hot reload: reads the config file edgebox was started with again, validates all of it, and
 * applies the difference while serving. A bad file changes nothing. Unchanged instances are left
 * alone; a removed one leaves the routing table, drains and stops; an added one starts and joins
 * it once ready; a changed one starts beside the old one and takes its routes over in one
 * assignment once ready, then the old one drains and stops (if it fails to start, the old one
 * keeps serving). An instance whose data file the old generation holds (an embedded SQLite
 * backend) cannot run twice: the old one stops first, and its routes answer 503 with
 * `Retry-After: 1` until the new one is ready. Core settings (auth, limits, log level) swap with
 * the routing table; the listening address and the data directory need a restart.
 *
 * The routing table is the app itself: each change builds a new app over the lifecycle's serving
 * set and swaps it in, so a request sees one consistent table from auth to handler.
 */
import { authRefusal } from "./auth.ts";
import {
  ConfigError,
  type ConfigIssue,
  type EdgeboxConfig,
  formatIssue,
  parseConfig,
} from "./config.ts";
import { parseSource } from "./config_source.ts";
import { enabledTypes, loadPlugins } from "./lazy_plugin.ts";
import type { Lifecycle, ManagedPlugin } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import type { PluginRegistry } from "./plugin.ts";
import { RATE_LIMIT_STORE } from "./rate_limit.ts";
import { type InstanceChange, planReload, type ReloadPlan } from "./reload_plan.ts";
import { messageOf } from "./timing.ts";

/** Where the config comes from: a file, or the text built into the program. */
export interface ReloadSource {
  /** The file name shown in problems (`<embedded>/...` for the built-in config). */
  name: string;
  /** True for the built-in config, which cannot change while edgebox runs. */
  embedded: boolean;
  /** Reads the text; throws a {@linkcode ConfigError} when it cannot. */
  read(): Promise<string>;
}

/** What became of one instance in a reload. */
export type InstanceOutcome = InstanceChange | "failed";

/** A reload that was applied (possibly with instances that failed to start). */
export interface ReloadApplied {
  ok: true;
  /** The config generation now serving (unchanged when nothing changed). */
  generation: number;
  file: string;
  instances: Record<string, InstanceOutcome>;
  /** Why each failed instance failed; the previous one keeps serving (or none, when added). */
  failures: Record<string, string>;
  /** Core settings that changed and took effect. */
  core: string[];
  /** Settings that changed in the file but need a restart (`server.port`...). */
  ignored: string[];
  note?: string;
}

/** A reload that changed nothing because the file is bad or the change cannot be made live. */
export interface ReloadRejected {
  ok: false;
  /** 400: the file is invalid; 409: valid, but refused now (dependencies, shutting down). */
  status: 400 | 409;
  code: "core.config_invalid" | "core.reload_refused";
  file: string;
  detail: string;
  /** One `FILE:LINE:COL path: message` line per problem, as `edgebox check` prints them. */
  problems: string[];
}

/** The answer of a reload. */
export type ReloadResult = ReloadApplied | ReloadRejected;

/** What set a reload off, for the log. */
export type ReloadTrigger = "http" | "SIGHUP" | "watch";

/** Builds the app for a config over the lifecycle's current serving set. */
export type AppBuilder<App> = (config: EdgeboxConfig, generation: number) => App;

/** Options of {@linkcode Reloader}. */
export interface ReloaderOptions<App> {
  /** The config edgebox serves (command-line overrides applied). */
  config: EdgeboxConfig;
  lifecycle: Lifecycle;
  registry: PluginRegistry;
  log: Logger;
  /** Where to read the config again; without one, every reload is refused. */
  source?: ReloadSource;
  /** The command line's `--host`/`--port`, applied to every config read. */
  overrides?: { host?: string; port?: number };
  buildApp: AppBuilder<App>;
}

/** Owns the serving config, its generation and the app built for it; applies reloads. */
export class Reloader<App> {
  readonly #lifecycle: Lifecycle;
  readonly #registry: PluginRegistry;
  readonly #log: Logger;
  readonly #source: ReloadSource | undefined;
  readonly #overrides: { host?: string; port?: number };
  readonly #build: AppBuilder<App>;
  #config: EdgeboxConfig;
  #generation = 1;
  #app: App;
  #started = false;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #pending: Promise<ReloadResult> | undefined;

  constructor(options: ReloaderOptions<App>) {
    this.#config = options.config;
    this.#lifecycle = options.lifecycle;
    this.#registry = options.registry;
    this.#log = options.log;
    this.#source = options.source;
    this.#overrides = options.overrides ?? {};
    this.#build = options.buildApp;
    this.#app = this.#build(this.#config, this.#generation);
  }

  /** The app serving now; read it per request, it changes on reload. */
  get app(): App {
    return this.#app;
  }

  /** The config serving now. */
  get config(): EdgeboxConfig {
    return this.#config;
  }

  /** The config generation serving now: 1 at boot, one more per reload that changed something. */
  get generation(): number {
    return this.#generation;
  }

  /** Reloads are accepted from now on (every instance of the boot config has started). */
  markStarted(): void {
    this.#started = true;
  }

  /**
   * Reloads the config. Reloads run one at a time; a reload asked for while another waits to
   * run shares that one's answer (the file is read when it runs).
   */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.#pending) return this.#pending;
    const run = this.#tail.then(() => {
      this.#pending = undefined;
      return this.#reloadLogged(trigger);
    });
    this.#pending = run;
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Refuses further reloads and waits for the one running, if any. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
  }

  async #reloadLogged(trigger: ReloadTrigger): Promise<ReloadResult> {
    let result: ReloadResult;
    try {
      result = await this.#reload();
    } catch (error) {
      // A bug, not a bad file: say so, but leave the serving config as it is.
      this.#log.error("config reload failed", { trigger, error: messageOf(error) });
      result = this.#rejected(409, "core.reload_refused", [], `Cannot reload: ${messageOf(error)}`);
    }
    if (result.ok) {
      const failed = Object.keys(result.failures);
      (failed.length ? this.#log.warn : this.#log.info)("config reloaded", {
        trigger,
        generation: result.generation,
        instances: result.instances,
        ...(failed.length ? { failures: result.failures } : {}),
        core: result.core,
        ignored: result.ignored,
      });
    } else {
      this.#log.warn("config reload refused", { trigger, problems: result.problems });
    }
    return result;
  }

  async #reload(): Promise<ReloadResult> {
    if (this.#closed || this.#lifecycle.stopping) {
      return this.#rejected(409, "core.reload_refused", [], "edgebox is shutting down");
    }
    if (!this.#started) {
      return this.#rejected(409, "core.reload_refused", [], "edgebox is still starting");
    }
    if (!this.#source) {
      return this.#rejected(409, "core.reload_refused", [], "edgebox has no config file to reload");
    }
    const file = this.#source.name;
    let text: string;
    let next: EdgeboxConfig;
    try {
      text = await this.#source.read();
      if (text.split("\n").every((line) => /^\s*(#.*)?$/.test(line))) {
        // Half-written by an editor, most likely: an empty config would stop every plugin.
        const issue = {
          path: [],
          line: 1,
          col: 1,
          message: "The config is empty; nothing changed",
        };
        return this.#rejected(400, "core.config_invalid", [issue], "The config file is empty");
      }
      next = parseConfig(text, { file, registry: this.#registry });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return this.#rejected(400, "core.config_invalid", error.issues, "The config file is invalid");
    }
    next = {
      ...next,
      server: { ...next.server, ...this.#overrides },
    };

    const problems = this.#checkServing(next, text);
    if (problems.length) {
      return this.#rejected(400, "core.config_invalid", problems, "The config cannot be served");
    }
    const plan = planReload(next, {
      config: this.#config,
      instances: this.#lifecycle.plugins.map((p) => ({
        name: p.name,
        settings: p.settings,
        telemetry: p.instance.telemetry !== undefined,
      })),
      registry: this.#registry,
    });
    // A type the reload enables for the first time loads its implementation now; a module
    // that fails to load is a bug, answered by #reloadLogged with the serving config kept.
    await loadPlugins(this.#registry, enabledTypes(next));
    if (plan.refusals.length) {
      const at = located(text);
      return this.#rejected(
        409,
        "core.reload_refused",
        plan.refusals.map((r) => ({
          path: ["plugins", r.instance],
          message: r.message,
          ...at(["plugins", r.instance]),
        })),
        "The config is valid, but this change needs a restart",
      );
    }
    return await this.#apply(next, plan);
  }

  /** What serving `next` on the running address requires beyond a valid file. */
  #checkServing(next: EdgeboxConfig, text: string): ConfigIssue[] {
    const at = located(text);
    const issues: ConfigIssue[] = [];
    const refusal = authRefusal(next.auth, this.#config.server.host);
    if (refusal) issues.push({ path: ["auth"], message: refusal, ...at(["auth"]) });
    const limits = next.server.rateLimit;
    if (limits) {
      const counts = next.plugins.some((p) =>
        p.enabled && (limits.store === undefined || p.name === limits.store) &&
        this.#registry.get(p.type)?.provides?.some((x) => x.capability === RATE_LIMIT_STORE)
      );
      if (!counts) {
        const path = ["server", "rateLimit", ...(limits.store ? ["store"] : [])];
        issues.push({
          path,
          message: limits.store
            ? `"${limits.store}" is not an enabled plugin that can count rate limits`
            : "server.rateLimit needs a plugin that can count rate limits (enable a cache instance)",
          ...at(path),
        });
      }
    }
    return issues;
  }

  async #apply(next: EdgeboxConfig, plan: ReloadPlan): Promise<ReloadApplied> {
    const instances: Record<string, InstanceOutcome> = {};
    for (const step of plan.steps) instances[step.name] = step.change;
    const changing = plan.steps.filter((s) => s.change !== "unchanged");
    const base = {
      ok: true as const,
      file: this.#source?.name ?? "",
      instances,
      failures: {} as Record<string, string>,
      core: plan.core,
      ignored: plan.ignored,
      ...(this.#source?.embedded
        ? {
          note:
            "edgebox serves its built-in config, which cannot change while it runs: nothing to reload",
        }
        : {}),
    };
    if (changing.length === 0 && plan.core.length === 0) {
      return { generation: this.#generation, ...base };
    }

    const generation = ++this.#generation;
    const forgetSecrets = this.#lifecycle.adoptSecrets(next);
    if (plan.core.includes("log.level")) this.#log.level = next.log.level;
    const grace = next.server.shutdownTimeout;
    const order = plan.steps.filter((s) => s.change !== "removed").map((s) => s.name);
    const serving = new Map(this.#lifecycle.plugins.map((p) => [p.name, p]));
    const leaving: ManagedPlugin[] = [];
    /** Swaps in the serving set and an app over it in one turn; undefined when it worked. */
    const publish = (): string | undefined => {
      const previous = [...this.#lifecycle.plugins];
      this.#lifecycle.commit(order.flatMap((name) => serving.get(name) ?? []));
      try {
        this.#app = this.#build(next, generation);
      } catch (error) {
        this.#lifecycle.commit(previous); // a route clash, say: the table stays as it was
        return messageOf(error);
      }
      this.#config = next;
      return undefined;
    };

    // Removed instances leave the table at once (their routes answer 404 from now on); the
    // new core settings come in with the same table.
    for (const step of plan.steps.filter((s) => s.change === "removed")) {
      leaving.push(serving.get(step.name)!);
      serving.delete(step.name);
    }
    const refused = publish();
    if (refused !== undefined) throw new Error(refused);

    for (const step of changing) {
      if (step.change === "removed" || this.#lifecycle.stopping) continue;
      const old = serving.get(step.name);
      let failure = old && old.dataFiles.size > 0
        ? await this.#replaceStoppingFirst(old, step.after!, { generation, grace, serving })
        : await this.#startBeside(step.after!, generation, serving);
      const started = serving.get(step.name);
      if (failure === undefined && started !== old) {
        failure = publish();
        if (failure !== undefined) {
          if (old) serving.set(step.name, old);
          else serving.delete(step.name);
          await this.#lifecycle.retire(started!, 0);
        }
      }
      if (failure === undefined) {
        if (old && old !== started && !leaving.includes(old)) leaving.push(old);
      } else {
        instances[step.name] = "failed";
        base.failures[step.name] = failure;
      }
    }

    // Dependents before what they depend on: the reverse of the start order they ran in.
    const startOrder = [...this.#lifecycle.plugins, ...leaving];
    leaving.sort((a, b) => startOrder.indexOf(b) - startOrder.indexOf(a));
    for (const plugin of leaving) await this.#lifecycle.retire(plugin, grace);
    forgetSecrets();
    return { generation, ...base };
  }

  /** Starts the new generation beside the serving one; on success it takes the name's routes. */
  async #startBeside(
    settings: EdgeboxConfig["plugins"][number],
    generation: number,
    serving: Map<string, ManagedPlugin>,
  ): Promise<string | undefined> {
    let plugin: ManagedPlugin;
    try {
      plugin = this.#lifecycle.prepare(settings, generation);
    } catch (error) {
      return `Cannot create plugin "${settings.name}": ${messageOf(error)}`;
    }
    const failure = await this.#lifecycle.launch(plugin);
    if (failure !== undefined) {
      await this.#lifecycle.retire(plugin, 0);
      return failure;
    }
    serving.set(settings.name, plugin);
    return undefined;
  }

  /**
   * For an instance whose files the old generation holds: stop the old one (its routes answer
   * 503 meanwhile), then start the new one; if that fails, start the old settings again.
   */
  async #replaceStoppingFirst(
    old: ManagedPlugin,
    settings: EdgeboxConfig["plugins"][number],
    options: { generation: number; grace: number; serving: Map<string, ManagedPlugin> },
  ): Promise<string | undefined> {
    await this.#lifecycle.retire(old, options.grace, "reloading");
    const failure = await this.#startBeside(settings, options.generation, options.serving);
    if (failure === undefined) return undefined;
    const rollback = await this.#startBeside(old.settings, old.generation, options.serving);
    return rollback === undefined
      ? `${failure}; the previous config of "${old.name}" was started again`
      : `${failure}; starting the previous config again failed too: ${rollback}`;
  }

  #rejected(
    status: 400 | 409,
    code: ReloadRejected["code"],
    issues: readonly ConfigIssue[],
    detail: string,
  ): ReloadRejected {
    const file = this.#source?.name ?? "";
    const problems = issues.map((issue) => formatIssue(file, issue));
    return {
      ok: false,
      status,
      code,
      file,
      detail: problems.length === 1
        ? problems[0]!
        : problems.length
        ? `${detail}: ${problems.length} problems`
        : detail,
      problems: problems.length ? problems : [detail],
    };
  }
}

/** Positions in `text` (the file is valid YAML by now). */
function located(text: string): (path: (string | number)[]) => { line: number; col: number } {
  const parsed = parseSource(text);
  return (path) => parsed.ok ? parsed.source.locate(path, true) : { line: 1, col: 1 };
}
