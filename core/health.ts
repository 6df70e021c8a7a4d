/**
 * Liveness and readiness. `/health` does no I/O: the process is alive if it can answer.
 * `/ready` reports the state the lifecycle keeps up to date from its probes, so a readiness
 * poll never multiplies load on the backends.
 */
import type { Lifecycle, ManagedPlugin } from "./lifecycle.ts";
import type { PluginState } from "./plugin.ts";
import { redactText } from "./redact.ts";

/** One plugin's line in the readiness report. */
export interface PluginReadiness {
  type: string;
  backend?: string;
  state: PluginState;
  required: boolean;
  since: string;
  detail?: string;
  /** Seconds until the next reconnect attempt, while degraded. */
  retryAfter?: number;
}

/** The body of `/ready`. */
export interface ReadinessReport {
  status: "ready" | "not_ready";
  plugins: Record<string, PluginReadiness>;
}

/** Seconds a client should wait before retrying a plugin that is not ready (at least 1). */
export function retryAfterSeconds(plugin: ManagedPlugin): number {
  if (plugin.nextAttemptAt === undefined) return 1;
  return Math.max(1, Math.ceil((plugin.nextAttemptAt - Date.now()) / 1000));
}

/** Ready when not shutting down and every required plugin is `ready`. */
export function readiness(lifecycle: Lifecycle, shuttingDown: boolean): ReadinessReport {
  const plugins: Record<string, PluginReadiness> = {};
  let ready = !shuttingDown;
  for (const plugin of lifecycle.plugins) {
    if (plugin.required && plugin.state !== "ready") ready = false;
    const line: PluginReadiness = {
      type: plugin.type,
      state: plugin.state,
      required: plugin.required,
      since: plugin.since.toISOString(),
    };
    if (plugin.backend !== undefined) line.backend = plugin.backend;
    if (plugin.detail !== undefined) line.detail = redactText(plugin.detail);
    if (plugin.state === "degraded") line.retryAfter = retryAfterSeconds(plugin);
    plugins[plugin.name] = line;
  }
  return { status: ready ? "ready" : "not_ready", plugins };
}
