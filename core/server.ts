/**
 * `edgebox serve`: builds the runtime from a config, listens, starts plugins, and shuts down
 * gracefully on SIGINT/SIGTERM (`/ready` answers 503 for `server.drainDelay` while everything else
 * is served, then stop accepting, finish in-flight requests up to `server.shutdownTimeout`, stop
 * plugins in reverse order). A second signal exits at once.
 */
import { createApp, type EdgeboxApp, rateLimitStore } from "./app.ts";
import { authEnabled, authRefusal } from "./auth.ts";
import type { EdgeboxConfig } from "./config.ts";
import { enabledTypes, loadPlugins } from "./lazy_plugin.ts";
import { Lifecycle, StartupError } from "./lifecycle.ts";
import { createLogger, flushLogs, type Logger } from "./log.ts";
import type { PluginRegistry } from "./plugin.ts";
import { Reloader, type ReloadSource } from "./reload.ts";
import { watchConfigFile } from "./reload_watch.ts";
import { messageOf, sleep } from "./timing.ts";
import { VERSION } from "./version.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  registry: PluginRegistry;
  /** Where the config came from, for the boot log. */
  source: string;
  /** Writes one-line fatal errors; stderr by default. */
  fatal?: (line: string) => void;
  /**
   * How to read the config again (SIGHUP, `POST /admin/reload`); without it edgebox cannot
   * reload. `overrides` are the command line's `--host`/`--port`; `watch` reloads on change.
   */
  reload?: {
    source: ReloadSource;
    overrides?: { host?: string; port?: number };
    /** The file to watch (`serve --watch-config`). */
    watch?: string;
  };
}

/** Runs the server until it is stopped; resolves to the process exit code. */
export async function serve(config: EdgeboxConfig, options: ServeOptions): Promise<number> {
  const fatal = (line: string) => {
    flushLogs(); // the fatal line comes last, after whatever led to it
    (options.fatal ?? ((text: string) => console.error(`edgebox: ${text}`)))(line);
  };
  const refusal = authRefusal(config.auth, config.server.host);
  if (refusal) {
    fatal(refusal);
    return 1;
  }
  const log = createLogger({
    level: config.log.level,
    ...(config.log.format ? { format: config.log.format } : {}),
  });
  keepAliveOnStrayErrors(log);

  let shuttingDown = false;
  let lifecycle: Lifecycle;
  try {
    await loadPlugins(options.registry, enabledTypes(config));
    lifecycle = new Lifecycle(config, { registry: options.registry, log });
  } catch (error) {
    fatal(messageOf(error));
    return 1;
  }
  const limits = config.server.rateLimit;
  if (limits && !rateLimitStore(lifecycle, limits.store)) {
    fatal(
      limits.store
        ? `server.rateLimit.store "${limits.store}" is not an enabled plugin that can count rate limits`
        : "server.rateLimit needs a plugin that can count rate limits (enable a cache instance)",
    );
    return 1;
  }
  let reloader: Reloader<EdgeboxApp>;
  try {
    reloader = new Reloader({
      config,
      lifecycle,
      registry: options.registry,
      log,
      ...(options.reload ? { source: options.reload.source } : {}),
      ...(options.reload?.overrides ? { overrides: options.reload.overrides } : {}),
      buildApp: (served, generation) =>
        createApp({
          config: served,
          lifecycle,
          log,
          isShuttingDown: () => shuttingDown,
          generation,
          ...(options.reload ? { reload: () => reloader.reload("http") } : {}),
        }),
    });
  } catch (error) {
    fatal(messageOf(error));
    return 1;
  }

  const listening = Promise.withResolvers<void>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.server.host,
      port: config.server.port,
      onListen: ({ hostname, port }) => {
        log.info("listening", {
          url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
          port,
          version: VERSION,
          config: options.source,
          auth: authEnabled(config.auth) ? "apiKey" : "none",
        });
        listening.resolve();
      },
    }, (request, info) => reloader.app.fetch(request, info));
  } catch (error) {
    fatal(`Cannot listen on ${config.server.host}:${config.server.port}: ${messageOf(error)}`);
    return 1;
  }
  await listening.promise;

  const stopped = Promise.withResolvers<number>();
  const shutdown = async (reason: string) => {
    shuttingDown = true;
    void reloader.close(); // a reload under way ends at its next step; the lifecycle stops the rest
    const { drainDelay, shutdownTimeout } = reloader.config.server;
    log.info("shutting down", { reason, drainDelayMs: drainDelay, timeoutMs: shutdownTimeout });
    if (drainDelay > 0) {
      // Load balancers see /ready turn 503 and take this replica out; until then, keep serving.
      await sleep(drainDelay);
      log.info("drain delay over; closing the listener", {});
    }
    lifecycle.beginDrain();
    const drained = await drain(server, shutdownTimeout);
    if (!drained) log.warn("in-flight requests did not finish in time; closing them", {});
    const errors = await lifecycle.stop();
    log.info("stopped", { pluginStopErrors: errors.length });
    stopped.resolve(0);
  };

  const onSignal = (signal: Deno.Signal) => () => {
    if (shuttingDown) {
      log.warn("second signal; exiting now", { signal });
      flushLogs();
      Deno.exit(1);
    }
    void shutdown(signal);
  };
  const signals: [Deno.Signal, () => void][] = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]];
  // SIGHUP reloads the config (and, handled, no longer ends the process as it would by default).
  if (Deno.build.os !== "windows") {
    signals.push(["SIGHUP", () => void reloader.reload("SIGHUP")]);
  }
  for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);
  let watching: AsyncDisposable | undefined;

  try {
    await lifecycle.start();
    reloader.markStarted();
    if (!shuttingDown) log.info("ready", { plugins: lifecycle.plugins.length });
    const watched = options.reload?.watch;
    if (watched !== undefined && !shuttingDown) {
      watching = watchConfigFile(watched, () => void reloader.reload("watch"), { log });
    }
  } catch (error) {
    shuttingDown = true;
    await drain(server, 1_000);
    await lifecycle.stop();
    fatal(error instanceof StartupError ? error.message : `Cannot start: ${messageOf(error)}`);
    stopped.resolve(1);
  }

  const code = await stopped.promise;
  await watching?.[Symbol.asyncDispose]();
  for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
  flushLogs();
  return code;
}

/** Stops accepting and waits for in-flight requests; false when the deadline cut them off. */
async function drain(server: Deno.HttpServer, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<false>((resolve) =>
    timer = setTimeout(() => resolve(false), timeoutMs)
  );
  const done = server.shutdown().then(() => true);
  const drained = await Promise.race([done, deadline]);
  clearTimeout(timer);
  return drained;
}

/**
 * A backend client that rejects a promise nobody awaits must not take the process down:
 * log it and carry on, the plugin's health probe will notice the backend is gone.
 */
function keepAliveOnStrayErrors(log: Logger): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log.error("unhandled rejection", { error: messageOf(event.reason) });
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    log.error("uncaught exception", { error: messageOf(event.error) });
  });
}
