/**
 * OpenTelemetry tracing for the whole process: a tracer provider that batches spans to an
 * OTLP/HTTP collector (JSON encoding), the W3C trace-context propagator and an
 * AsyncLocalStorage context manager, registered as the `@opentelemetry/api` globals the core's
 * telemetry (`core/telemetry.ts`) opens its spans through.
 */
import {
  type Attributes,
  type Context,
  context,
  diag,
  type DiagLogger,
  DiagLogLevel,
  type Link,
  propagation,
  SpanKind,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  type ExportResult,
  ExportResultCode,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Logger } from "../../core/log.ts";
import { redactText } from "../../core/redact.ts";
import { PRESAMPLED, redactAttributes } from "../../core/telemetry.ts";
import type { Counter, Metrics } from "../../core/metrics.ts";
import { messageOf } from "../../core/timing.ts";
import { VERSION } from "../../core/version.ts";
import type { TracingConfig } from "./config.ts";

/** Diagnostics of the OpenTelemetry SDK reach the log at most this often. */
const DIAG_INTERVAL_MS = 30_000;

/** Options of {@linkcode Tracing}. */
export interface TracingOptions {
  config: TracingConfig;
  log: Logger;
  /** Where span export outcomes are counted. */
  metrics: Metrics;
  /** Paths besides `config.ignorePaths` that never start a trace (the metrics path). */
  ignorePaths?: readonly string[];
}

/** The process's tracer provider, from `start` (globals registered) to `stop` (flushed). */
export class Tracing {
  readonly #options: TracingOptions;
  readonly #exported: Counter;
  #provider: TracerProvider | undefined;
  /** What this instance registered, and so unregisters at stop. */
  #contextManager: AsyncLocalStorageContextManager | undefined;
  #propagator = false;
  #diag = false;

  constructor(options: TracingOptions) {
    this.#options = options;
    this.#exported = options.metrics.counter(
      "edgebox_trace_spans_exported_total",
      "Spans handed to the OTLP collector, by outcome",
      ["outcome"],
    );
  }

  /** The URL spans are posted to. */
  get url(): string {
    return `${this.#options.config.endpoint.replace(/\/+$/, "")}/v1/traces`;
  }

  /**
   * Builds the provider and registers the globals; a no-op once done. Does no network I/O:
   * the first export happens when the first batch of spans is due.
   */
  start(): void {
    if (this.#provider) return;
    const { config, log } = this.#options;
    const exporter = new CountingExporter(
      new OTLPTraceExporter({ url: this.url, timeoutMillis: config.exportTimeout }),
      this.#exported,
    );
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: config.serviceName,
        [ATTR_SERVICE_VERSION]: VERSION,
        "process.runtime.name": "deno",
        "process.runtime.version": Deno.version.deno,
      }),
      sampler: new ParentBasedSampler({
        root: new RootSampler(
          new Set([...config.ignorePaths, ...(this.#options.ignorePaths ?? [])]),
          new TraceIdRatioBasedSampler(config.sampleRatio),
        ),
      }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: config.exportDelay,
          exportTimeoutMillis: config.exportTimeout,
          maxQueueSize: config.maxQueueSize,
          maxExportBatchSize: config.maxBatchSize,
        }),
      ],
    });
    // A `set*` call refuses (returns false) when another SDK already registered that global,
    // e.g. Deno's built-in OpenTelemetry (OTEL_DENO=true): spans then go to it, which is still
    // tracing, and only what this plugin registered is unregistered at stop.
    if (!trace.setGlobalTracerProvider(provider)) {
      log.warn("another OpenTelemetry tracer provider is registered; spans go to it", {});
      void provider.shutdown(); // it holds no spans yet: nothing to send
      return;
    }
    this.#provider = provider;
    const contextManager = new AsyncLocalStorageContextManager().enable();
    if (context.setGlobalContextManager(contextManager)) this.#contextManager = contextManager;
    else contextManager.disable();
    this.#propagator = propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    this.#diag = diag.setLogger(throttledDiagLogger(log, this.url), {
      logLevel: DiagLogLevel.WARN,
      suppressOverrideMessage: true,
    });
    log.info("tracing", {
      endpoint: this.url,
      serviceName: config.serviceName,
      sampleRatio: config.sampleRatio,
    });
  }

  /** Exports the spans still queued, shuts the provider down and unregisters the globals. */
  async stop(): Promise<void> {
    const provider = this.#provider;
    if (!provider) return;
    this.#provider = undefined;
    try {
      await provider.shutdown();
    } catch (error) {
      this.#options.log.warn("tracing problem", {
        endpoint: this.url,
        detail: `Cannot export the last spans: ${readable(messageOf(error))}`,
      });
    } finally {
      trace.disable();
      if (this.#contextManager) {
        context.disable();
        this.#contextManager.disable();
        this.#contextManager = undefined;
      }
      if (this.#propagator) propagation.disable();
      if (this.#diag) diag.disable();
      this.#propagator = false;
      this.#diag = false;
    }
  }
}

/**
 * Decides new traces. A server span whose `url.path` (set by the core when it opens the span) is
 * ignored starts none; one the core has already sampled in (it decides before opening a span, so
 * requests left out cost nothing, see `core/telemetry.ts`) is recorded; anything else, such as
 * a span the core did not open, is left to the sampler it wraps.
 */
class RootSampler implements Sampler {
  readonly #ignoredPaths: ReadonlySet<string>;
  readonly #inner: Sampler;

  constructor(ignoredPaths: ReadonlySet<string>, inner: Sampler) {
    this.#ignoredPaths = ignoredPaths;
    this.#inner = inner;
  }

  shouldSample(
    parent: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (kind === SpanKind.SERVER && this.#ignoredPaths.has(attributes["url.path"] as string)) {
      return { decision: SamplingDecision.NOT_RECORD };
    }
    if (parent.getValue(PRESAMPLED) === true) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.#inner.shouldSample(parent, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `RootSampler{${[...this.#ignoredPaths].join(",")}; ${this.#inner.toString()}}`;
  }
}

/**
 * Counts exported and failed spans on the way to the real exporter, and passes every span
 * through the redaction first (`core/redact.ts`): this is where each span leaves the process,
 * whoever opened it.
 */
class CountingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #counter: Counter;

  constructor(inner: SpanExporter, counter: Counter) {
    this.#inner = inner;
    this.#counter = counter;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#inner.export(spans.map(redactSpan), (result) => {
      const outcome = result.code === ExportResultCode.SUCCESS ? "ok" : "failed";
      this.#counter.inc({ outcome }, spans.length);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** A span as it may leave the process: name, status, attributes, events and links redacted. */
export function redactSpan(span: ReadableSpan): ReadableSpan {
  const status = span.status.message === undefined
    ? span.status
    : { ...span.status, message: redactText(span.status.message) };
  return {
    name: redactText(span.name),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext ? { parentSpanContext: span.parentSpanContext } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status,
    attributes: redactAttributes(span.attributes),
    links: span.links.map((link) =>
      link.attributes ? { ...link, attributes: redactAttributes(link.attributes) } : link
    ),
    events: span.events.map((event) =>
      event.attributes ? { ...event, attributes: redactAttributes(event.attributes) } : event
    ),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/**
 * Sends the SDK's warnings and errors (an unreachable collector, a full span queue) to the log,
 * at most one line per interval so a collector that is down does not flood it.
 */
function throttledDiagLogger(log: Logger, endpoint: string): DiagLogger {
  let last = -Infinity;
  let suppressed = 0;
  const emit = (message: string, args: unknown[]) => {
    const now = performance.now();
    if (now - last < DIAG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    last = now;
    log.warn("tracing problem", {
      endpoint,
      detail: [readable(message), ...args.map(messageOf)].join(" "),
      ...(suppressed > 0 ? { suppressedSince: suppressed } : {}),
    });
    suppressed = 0;
  };
  return {
    error: (message, ...args) => emit(message, args),
    warn: (message, ...args) => emit(message, args),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
}

/** The SDK's error handler passes errors as JSON with their stack: keep just the message. */
function readable(message: string): string {
  if (!message.startsWith("{")) return message;
  try {
    const parsed = JSON.parse(message) as { message?: unknown };
    return typeof parsed.message === "string" ? parsed.message : message;
  } catch {
    return message; // Not JSON after all.
  }
}
