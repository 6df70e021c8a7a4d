/**
 * Test doubles and helpers for the core's unit tests: a registry of recording plugins whose
 * hooks can be told to fail, hang or report down, configs built through `parseConfig`, a
 * lifecycle and an app that stop themselves, and a wait-for-condition helper.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { createApp, type EdgeboxApp } from "../../core/app.ts";
import { type EdgeboxConfig, parseConfig } from "../../core/config.ts";
import { Lifecycle, type ManagedPlugin } from "../../core/lifecycle.ts";
import { createLogger, type Logger } from "../../core/log.ts";
import {
  definePlugin,
  type HealthReport,
  type PluginContext,
  type PluginDefinition,
  type PluginRegistry,
} from "../../core/plugin.ts";
import { createRouter } from "../../core/routes.ts";
import { sleep } from "../../core/timing.ts";

/**
 * Options that turn Deno's ops and resources sanitizers on for a test: Deno 2.9 leaves them
 * off by default, and a leaked timer or connection is a lifecycle bug we want reported.
 */
export const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;

/** The config schema of every recording plugin type. */
export const RecordingConfig = z.discriminatedUnion("backend", [
  z.strictObject({
    backend: z.literal("memory"),
    /** Every start attempt throws. */
    failStart: z.boolean().default(false),
    /** A secret-looking field, for redaction tests. */
    password: z.string().optional(),
  }),
]);

/** Validated recording plugin config. */
export type RecordingConfig = z.output<typeof RecordingConfig>;

/** How one instance's hooks behave; tests change it while the instance runs. */
export interface Behaviour {
  /** The next this-many start attempts throw (`Infinity`: every one). */
  startFailures: number;
  /** Start waits until the instance's signal aborts, so it overruns any start timeout. */
  startHangs: boolean;
  /** Start takes this long and ignores the abort signal, like a client mid-connect. */
  startDelayMs: number;
  /** What `ready` reports. */
  readyStatus: HealthReport["status"];
  /** Ready throws instead of reporting. */
  readyThrows: boolean;
  /** Ready never settles. */
  readyHangs: boolean;
  /** Stop throws. */
  stopFails: boolean;
  /** Stop never settles. */
  stopHangs: boolean;
}

/** What the recording plugins offer through `ctx.use(type)`. */
export interface RecordingExports {
  name: string;
}

/** A registry of recording plugins and what their hooks saw. */
export interface Harness {
  registry: PluginRegistry;
  /** `create:<name>`, `start:<name>`, `started:<name>`, `stop:<name>`, in call order. */
  calls: string[];
  /** Every instance's context, by instance name. */
  contexts: Map<string, PluginContext<RecordingConfig>>;
  /** Every instance's exports, by instance name. */
  exports: Map<string, RecordingExports>;
  /** The (mutable) behaviour of an instance; defaults to a healthy one. */
  behaviour(name: string): Behaviour;
  /** How many calls of this exact kind were made (`start:db`). */
  count(call: string): number;
}

/**
 * Creates recording plugin types: `types` maps each type to the types it requires. Each
 * instance mounts `GET /` (its name) and `GET /boom` (throws a plain Error).
 */
export function createHarness(
  types: Record<string, readonly string[]> = { test: [] },
  extra: readonly PluginDefinition[] = [],
): Harness {
  const calls: string[] = [];
  const contexts = new Map<string, PluginContext<RecordingConfig>>();
  const exports = new Map<string, RecordingExports>();
  const behaviours = new Map<string, Behaviour>();
  const behaviour = (name: string): Behaviour => {
    let found = behaviours.get(name);
    if (!found) {
      found = {
        startFailures: 0,
        startHangs: false,
        startDelayMs: 0,
        readyStatus: "ready",
        readyThrows: false,
        readyHangs: false,
        stopFails: false,
        stopHangs: false,
      };
      behaviours.set(name, found);
    }
    return found;
  };

  const definitions: PluginDefinition[] = Object.entries(types).map(([type, requires]) =>
    definePlugin({
      type,
      description: `Recording test plugin "${type}"`,
      config: RecordingConfig,
      backends: ["memory"],
      requires,
      create(ctx) {
        const { name } = ctx;
        calls.push(`create:${name}`);
        contexts.set(name, ctx);
        const own: RecordingExports = { name };
        exports.set(name, own);
        const routes = createRouter();
        routes.get("/", (c) => c.json({ name }));
        routes.get("/boom", () => {
          throw new Error(`Route of ${name} exploded`);
        });
        return {
          routes,
          start: async () => {
            calls.push(`start:${name}`);
            const b = behaviour(name);
            if (b.startHangs) await sleep(60_000, ctx.signal);
            if (b.startDelayMs > 0) await sleep(b.startDelayMs);
            if (ctx.config.failStart) throw new Error(`Cannot start ${name}: failStart is set`);
            if (b.startFailures > 0) {
              b.startFailures--;
              throw new Error(`Cannot start ${name}: told to fail`);
            }
            calls.push(`started:${name}`);
          },
          ready: async (): Promise<HealthReport> => {
            const b = behaviour(name);
            if (b.readyHangs) await new Promise<never>(() => {});
            if (b.readyThrows) throw new Error(`Cannot probe ${name}: told to throw`);
            const status = b.readyStatus;
            return status === "ready"
              ? { status }
              : { status, detail: `${name} probe says ${status}` };
          },
          stop: async () => {
            calls.push(`stop:${name}`);
            const b = behaviour(name);
            if (b.stopHangs) await new Promise<never>(() => {});
            if (b.stopFails) throw new Error(`Cannot stop ${name}: told to fail`);
          },
          exports: own,
        };
      },
    })
  );

  return {
    registry: new Map([...definitions, ...extra].map((d) => [d.type, d])),
    calls,
    contexts,
    exports,
    behaviour,
    count: (call) => calls.filter((c) => c === call).length,
  };
}

/** Settings that keep lifecycle tests fast; a block's own fields override them. */
export const FAST_SETTINGS = {
  backend: "memory",
  startAttempts: 1,
  healthInterval: "20ms",
  reconnect: { initialDelay: "10ms", maxDelay: "20ms" },
  timeouts: { start: "200ms", ready: "100ms", stop: "200ms" },
} as const;

/**
 * Writes a config file's text: each plugin block gets {@linkcode FAST_SETTINGS} under its own
 * fields (`timeouts` and `reconnect` are merged key by key); `root` adds `server:`, `auth:`...
 */
export function configYaml(
  plugins: Record<string, Record<string, unknown>>,
  root: Record<string, unknown> = {},
): string {
  const blocks: Record<string, unknown> = {};
  for (const [name, block] of Object.entries(plugins)) {
    blocks[name] = {
      ...FAST_SETTINGS,
      ...block,
      timeouts: { ...FAST_SETTINGS.timeouts, ...(block.timeouts as object | undefined) },
      reconnect: { ...FAST_SETTINGS.reconnect, ...(block.reconnect as object | undefined) },
    };
  }
  return stringify({ ...root, plugins: blocks });
}

/** Parses config text the way `edgebox serve` does, against the harness's registry. */
export function loadConfig(yamlText: string, registry: PluginRegistry): EdgeboxConfig {
  return parseConfig(yamlText, { file: "test.yaml", registry, env: () => undefined });
}

/** A logger that writes nothing. */
export function silentLog(): Logger {
  return createLogger({ write: () => {} });
}

/** A logger that keeps every line (JSON) for assertions. */
export function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  return { log, lines };
}

/** A lifecycle that stops itself when disposed, plus the state changes it went through. */
export interface RunningLifecycle extends AsyncDisposable {
  lifecycle: Lifecycle;
  /** `<name>:<from>-><to>` for every state change, in order. */
  transitions: string[];
}

/** Creates (but does not start) a lifecycle; `await using` it so it is always stopped. */
export function openLifecycle(
  config: EdgeboxConfig,
  registry: PluginRegistry,
  options: { log?: Logger } = {},
): RunningLifecycle {
  const transitions: string[] = [];
  const lifecycle = new Lifecycle(config, {
    registry,
    log: options.log ?? silentLog(),
    onStateChange: (plugin: ManagedPlugin, previous) => {
      transitions.push(`${plugin.name}:${previous}->${plugin.state}`);
    },
  });
  return {
    lifecycle,
    transitions,
    async [Symbol.asyncDispose]() {
      await lifecycle.stop();
    },
  };
}

/** A started lifecycle and the app in front of it; stops the lifecycle when disposed. */
export interface RunningApp extends RunningLifecycle {
  app: EdgeboxApp;
  config: EdgeboxConfig;
  /** Sends a request to the app (no network). */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Builds the app for a config and starts its lifecycle. */
export async function openApp(
  yamlText: string,
  registry: PluginRegistry,
  options: { isShuttingDown?: () => boolean; log?: Logger } = {},
): Promise<RunningApp> {
  const config = loadConfig(yamlText, registry);
  const log = options.log ?? silentLog();
  const running = openLifecycle(config, registry, { log });
  const app = createApp({
    config,
    lifecycle: running.lifecycle,
    log,
    ...(options.isShuttingDown ? { isShuttingDown: options.isShuttingDown } : {}),
  });
  try {
    await running.lifecycle.start();
  } catch (error) {
    await running.lifecycle.stop();
    throw error;
  }
  return {
    ...running,
    app,
    config,
    request: async (path, init) => await app.request(path, init),
  };
}

/** Polls `predicate` every 5ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    }
    await sleep(5);
  }
}

/** The state of one instance of a lifecycle. */
export function stateOf(running: RunningLifecycle, name: string): string | undefined {
  return running.lifecycle.get(name)?.state;
}

/** The problem document a response carries, after checking its content type. */
export async function problemOf(response: Response): Promise<Record<string, unknown>> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`Expected application/problem+json, got "${type}" (status ${response.status})`);
  }
  return await response.json();
}
