/**
 * The kit to test a plugin, for plugin authors (`@edgebox/edgebox/testing`): an edgebox built in
 * process from your plugin list and a config, started, with a `request` to call its HTTP API,
 * stopped by `await using`. It is how edgebox tests its own plugins.
 *
 * ```ts
 * await using edgebox = await openTestEdgebox({
 *   plugins: [...builtinPlugins, auditPlugin],
 *   config: { plugins: { cache: { backend: "memory" }, audit: { backend: "memory" } } },
 * });
 * const response = await edgebox.request("/v1/audit/log");
 * ```
 */
import { stringify } from "yaml";
import { createApp, type EdgeboxApp } from "../core/app.ts";
import { type EdgeboxConfig, parseConfig } from "../core/config.ts";
import { enabledTypes, loadPlugins } from "../core/lazy_plugin.ts";
import { Lifecycle } from "../core/lifecycle.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { type PluginDefinition, registryOf } from "../core/plugin.ts";

/** Turns Deno's op and resource sanitizers on for a test: a leak they find is a lifecycle bug. */
export const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;

/** Options of {@linkcode openTestEdgebox}. */
export interface TestEdgeboxOptions {
  /** Every plugin type the edgebox knows. */
  plugins: readonly PluginDefinition[];
  /**
   * The config, as the YAML file would hold it (`{ plugins: {...}, server: {...} }`). Without
   * `server.dataDir`, embedded backends keep their files in a temporary directory removed when
   * the edgebox is disposed.
   */
  config: Record<string, unknown>;
  /** Where log lines go (default: nowhere). */
  log?: Logger;
}

/** A started edgebox in this process. */
export interface TestEdgebox extends AsyncDisposable {
  app: EdgeboxApp;
  config: EdgeboxConfig;
  lifecycle: Lifecycle;
  /** Calls the HTTP API (`"/v1/cache/keys/a"`, or a full URL) without a socket. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Builds, validates and starts an edgebox; a config error or a failed start throws. */
export async function openTestEdgebox(options: TestEdgeboxOptions): Promise<TestEdgebox> {
  const registry = registryOf(options.plugins);
  const config = parseConfig(stringify(options.config), {
    file: "test.yaml",
    registry,
    env: () => undefined,
  });
  const ownDataDir = config.server.dataDir === undefined
    ? config.server.dataDir = Deno.makeTempDirSync({ prefix: "edgebox-test-" })
    : undefined;
  const removeDataDir = () => {
    if (ownDataDir) Deno.removeSync(ownDataDir, { recursive: true });
  };
  const log = options.log ?? createLogger({ write: () => {} });
  try {
    await loadPlugins(registry, enabledTypes(config));
  } catch (error) {
    removeDataDir();
    throw error;
  }
  const lifecycle = new Lifecycle(config, { registry, log });
  const app = createApp({ config, lifecycle, log });
  try {
    await lifecycle.start();
  } catch (error) {
    await lifecycle.stop();
    removeDataDir();
    throw error;
  }
  return {
    app,
    config,
    lifecycle,
    request: (path, init) => app.request(path, init),
    async [Symbol.asyncDispose]() {
      await lifecycle.stop();
      removeDataDir();
    },
  };
}
