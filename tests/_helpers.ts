/**
 * Helpers every test suite shares: the sanitizer options, configs built through `parseConfig`,
 * a lifecycle and an app that stop themselves, loggers, problem documents and a
 * wait-for-condition helper.
 */
import { stringify } from "yaml";
import { createApp, type EdgeboxApp } from "../core/app.ts";
import { type EdgeboxConfig, parseConfig } from "../core/config.ts";
import { Lifecycle, type ManagedPlugin } from "../core/lifecycle.ts";
import { loadPlugins } from "../core/lazy_plugin.ts";
import { createLogger, type Logger } from "../core/log.ts";
import type { PluginRegistry } from "../core/plugin.ts";
import { sleep } from "../core/timing.ts";
import { builtinRegistry } from "../plugins/mod.ts";

// The built-in plugins load their implementations on demand (core/lazy_plugin.ts), before a
// lifecycle is built; the suites build theirs synchronously, so every one is loaded here, once.
await loadPlugins(builtinRegistry, builtinRegistry.keys());

/**
 * Options that turn Deno's ops and resources sanitizers on for a test: Deno 2.9 leaves them
 * off by default, and a leaked timer or connection is a lifecycle bug we want reported.
 */
export const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;

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

/** Parses config text the way `edgebox serve` does, against a registry. */
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

/** A fresh temporary directory, removed with everything in it when disposed. */
export function tempDir(prefix = "edgebox-test-"): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}
