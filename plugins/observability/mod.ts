/**
 * The observability plugin: makes the core's telemetry real. Metrics go to a private
 * prom-client registry served at `/metrics` (Prometheus text format), spans to an OpenTelemetry
 * collector over OTLP/HTTP, and the log level can be changed at run time.
 *
 * It has no backend of its own (it is the backend of the core's telemetry), so it is declared
 * with `create`: it hands the core its backends through `telemetry` at create time, and the
 * tracer provider and the event loop sampler begin at `start` and end, flushed, at `stop`.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import { ObservabilityConfig } from "./config.ts";

/**
 * The observability plugin definition; its implementation (`plugin.ts`, prom-client with it)
 * loads when an instance is enabled.
 */
export const observabilityPlugin = lazyPlugin<ObservabilityConfig>({
  type: "observability",
  description: "Prometheus metrics at /metrics, OpenTelemetry traces over OTLP, runtime log level",
  config: ObservabilityConfig,
  load: async () => (await import("./plugin.ts")).observabilityImplementation,
});
