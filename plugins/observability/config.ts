/**
 * Config of the observability plugin: Prometheus metrics at a root path, OpenTelemetry traces
 * exported over OTLP/HTTP, and the per-request access log switch. It has no `backend`: it is
 * the backend of the core's telemetry.
 */
import { z } from "zod";
import { CORE_PATHS } from "../../core/mounts.ts";
import { duration } from "../../core/units.ts";

/** Default histogram buckets, in seconds (request and operation latencies). */
export const DEFAULT_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

const Buckets = z.array(z.number().positive().finite()).min(1).max(64)
  .refine((buckets) => buckets.every((b, i) => i === 0 || b > buckets[i - 1]!), {
    message: "Buckets must be strictly increasing",
  });

/** `metrics:` — the Prometheus endpoint and the registry behind it. */
export const MetricsConfig = z.strictObject({
  enabled: z.boolean().default(true),
  /** Mounted at the root (Prometheus expects `/metrics`), not under `/v1`. */
  path: z.string()
    .regex(
      /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/,
      "Expected an absolute path such as /metrics",
    )
    .refine((path) => !CORE_PATHS.has(path), "The core already serves this path")
    .refine(
      (path) => path !== "/v1" && !path.startsWith("/v1/"),
      "Paths under /v1 belong to plugins",
    )
    .default("/metrics"),
  /** Upper bounds of every histogram that does not choose its own, in seconds. */
  defaultBuckets: Buckets.default([...DEFAULT_BUCKETS]),
  /** True serves `/metrics` without an API key; otherwise it needs scope `metrics:read`. */
  public: z.boolean().default(false),
  /**
   * Most label combinations one metric may hold; past it new series are dropped (and counted in
   * `edgebox_metrics_series_dropped_total`) instead of growing memory without bound.
   */
  maxSeries: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Resident memory, heap, CPU, file descriptors, sockets and event loop lag. */
  process: z.boolean().default(true),
  /** How often the event loop lag is sampled. */
  eventLoopInterval: duration().pipe(z.number().min(10).max(60_000)).default(100),
});

/** `tracing:` — OpenTelemetry spans sent to a collector over OTLP/HTTP (JSON). */
export const TracingConfig = z.strictObject({
  enabled: z.boolean().default(false),
  /** The collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint: z.url({ protocol: /^https?$/, error: "Expected an http(s) URL" })
    .default("http://127.0.0.1:4318"),
  /** `service.name` of every span. */
  serviceName: z.string().min(1).max(200).default("edgebox"),
  /** Share of new traces recorded (0 to 1); a client's sampling decision is always followed. */
  sampleRatio: z.number().min(0).max(1).default(1),
  /** How long one export may take before it is abandoned. */
  exportTimeout: duration().pipe(z.number().min(1).max(120_000)).default(10_000),
  /** How long finished spans wait to be sent in one batch. */
  exportDelay: duration().pipe(z.number().min(1).max(60_000)).default(5_000),
  /** Spans kept while waiting; past it new spans are dropped (never blocks a request). */
  maxQueueSize: z.number().int().min(1).max(1_000_000).default(2_048),
  /** Largest number of spans in one export. */
  maxBatchSize: z.number().int().min(1).max(100_000).default(512),
  /**
   * Request paths that never start a trace: probes and scrapes would otherwise be most of the
   * traces. The metrics path is always added.
   */
  ignorePaths: z.array(z.string().regex(/^\//, "Expected a path starting with /")).max(100)
    .default(["/health", "/ready"]),
}).refine((tracing) => tracing.maxBatchSize <= tracing.maxQueueSize, {
  message: "maxBatchSize cannot exceed maxQueueSize",
  path: ["maxBatchSize"],
});

/** The whole observability block. */
export const ObservabilityConfig = z.strictObject({
  metrics: MetricsConfig.default(MetricsConfig.parse({})),
  tracing: TracingConfig.default(TracingConfig.parse({})),
  /** False turns the one-line-per-request access log off. */
  accessLog: z.boolean().default(true),
});

/** Validated observability config. */
export type ObservabilityConfig = z.output<typeof ObservabilityConfig>;
/** Validated `metrics:` block. */
export type MetricsConfig = z.output<typeof MetricsConfig>;
/** Validated `tracing:` block. */
export type TracingConfig = z.output<typeof TracingConfig>;
