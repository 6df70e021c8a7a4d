/**
 * The observability plugin: makes the core's telemetry real. Metrics go to a private
 * prom-client registry served at `/metrics` (Prometheus text format), spans to an OpenTelemetry
 * collector over OTLP/HTTP, and the log level can be changed at run time.
 *
 * It hands the core its backends through `telemetry` at create time (the core installs them
 * right away, so every plugin's instruments record into the registry); the tracer provider and
 * the event loop sampler begin at `start` and end, flushed, at `stop`.
 */
import { Registry } from "prom-client";
import { definePlugin } from "../../core/plugin.ts";
import { ObservabilityConfig } from "./config.ts";
import { type ProcessMetrics, registerProcessMetrics } from "./process_metrics.ts";
import { PromMetrics } from "./prom_metrics.ts";
import { logLevelRoutes, metricsRoutes } from "./routes.ts";
import { Tracing } from "./tracing.ts";

/** The observability plugin definition. */
export const observabilityPlugin = definePlugin({
  type: "observability",
  description: "Prometheus metrics at /metrics, OpenTelemetry traces over OTLP, runtime log level",
  config: ObservabilityConfig,
  requires: [],
  create(ctx) {
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
    const processMetrics: ProcessMetrics | undefined =
      metricsConfig.enabled && metricsConfig.process
        ? registerProcessMetrics(registry, { lagInterval: metricsConfig.eventLoopInterval })
        : undefined;
    const tracing = tracingConfig.enabled
      ? new Tracing({
        config: tracingConfig,
        log: ctx.log,
        metrics: ctx.metrics,
        ignorePaths: metricsConfig.enabled ? [metricsConfig.path] : [],
      })
      : undefined;

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
        tracing: tracing !== undefined,
        accessLog: ctx.config.accessLog,
        ...(tracing
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
      start: () => {
        processMetrics?.start();
        tracing?.start();
      },
      ready: () => ({ status: "ready" }),
      stop: async () => {
        processMetrics?.stop();
        await tracing?.stop();
      },
    };
  },
});
