/**
 * One observability instance: the prom-client registry and its instruments, the tracer, the
 * routes (`/metrics` at the root, `/log-level` under the mount) and the telemetry backends it
 * hands the core.
 */
import { Registry } from "./prom_client.ts";
import type { PluginContext, PluginInstance } from "../../core/plugin.ts";
import type { ObservabilityConfig } from "./config.ts";
import { type ProcessMetrics, registerProcessMetrics } from "./process_metrics.ts";
import { PromMetrics } from "./prom_metrics.ts";
import { logLevelRoutes, metricsRoutes } from "./routes.ts";
import type { Tracing } from "./tracing.ts";

/** Builds an instance from its context (no I/O: the tracer and the sampler begin at `start`). */
export function createObservability(ctx: PluginContext<ObservabilityConfig>): PluginInstance {
  const { metrics: metricsConfig, tracing: tracingConfig } = ctx.config;
  const registry = new Registry();
  const metrics = metricsConfig.enabled
    ? new PromMetrics({
      registry,
      buckets: metricsConfig.defaultBuckets,
      maxSeries: metricsConfig.maxSeries,
      onProblem: (message, fields) => ctx.log.error(message, fields),
    })
    : undefined;
  const processMetrics: ProcessMetrics | undefined = metricsConfig.enabled && metricsConfig.process
    ? registerProcessMetrics(registry, { lagInterval: metricsConfig.eventLoopInterval })
    : undefined;
  // The OpenTelemetry SDK loads at start, and only when tracing is on: it costs tens of
  // milliseconds of start-up that an instance without tracing should not pay.
  let tracing: Tracing | undefined;
  const startTracing = async () => {
    const { Tracing } = await import("./tracing.ts");
    tracing ??= new Tracing({
      config: tracingConfig,
      log: ctx.log,
      metrics: ctx.metrics,
      ignorePaths: metricsConfig.enabled ? [metricsConfig.path] : [],
    });
    tracing.start();
  };

  const untraced = new Set([
    ...tracingConfig.ignorePaths,
    ...(metricsConfig.enabled ? [metricsConfig.path] : []),
  ]);
  return {
    routes: logLevelRoutes(ctx.log),
    ...(metricsConfig.enabled
      ? {
        rootRoutes: {
          routes: metricsRoutes(metricsConfig.path, registry),
          ...(metricsConfig.public ? {} : { scope: "metrics:read" }),
        },
      }
      : {}),
    telemetry: {
      ...(metrics ? { metrics } : {}),
      tracing: tracingConfig.enabled,
      accessLog: ctx.config.accessLog,
      ...(tracingConfig.enabled
        ? {
          shouldTrace: (path: string) => !untraced.has(path),
          sampleRatio: tracingConfig.sampleRatio,
        }
        : {}),
    },
    // Changing the log level is an admin act, not a write to this plugin's data.
    routeScope: (
      method,
      path,
    ) => (path === "/log-level" && method !== "GET" ? "admin" : undefined),
    start: async () => {
      processMetrics?.start();
      if (tracingConfig.enabled) await startTracing();
    },
    ready: () => ({ status: "ready" }),
    stop: async () => {
      processMetrics?.stop();
      await tracing?.stop();
    },
  };
}
