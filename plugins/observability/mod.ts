/**
 * The observability plugin: makes the core's telemetry real. Metrics go to a private
 * prom-client registry served at `/metrics` (Prometheus text format), spans to an OpenTelemetry
 * collector over OTLP/HTTP, and the log level can be changed at run time.
 *
 * It has no backend of its own (it is the backend of the core's telemetry), so it is declared
 * with `create`: it hands the core its backends through `telemetry` at create time, and the
 * tracer provider and the event loop sampler begin at `start` and end, flushed, at `stop`.
 */
import { definePlugin } from "../../core/plugin.ts";
import { ObservabilityConfig } from "./config.ts";
import { createObservability } from "./instance.ts";

/** The observability plugin definition. */
export const observabilityPlugin = definePlugin({
  type: "observability",
  description: "Prometheus metrics at /metrics, OpenTelemetry traces over OTLP, runtime log level",
  config: ObservabilityConfig,
  requires: [],
  create: createObservability,
});
