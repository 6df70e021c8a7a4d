/**
 * The core's side of observability. Plugins and the core record metrics and spans here without
 * knowing whether anything collects them: the hub forwards to the backend an observability
 * plugin installs (Prometheus metrics, OpenTelemetry tracing) and costs next to nothing otherwise.
 */
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Exception,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { Counter, Gauge, Histogram, Labels, Metrics } from "./metrics.ts";
import { noopMetrics } from "./metrics.ts";
import { redactText } from "./redact.ts";

/** What an observability plugin hands the core (see `PluginInstance.telemetry`). */
export interface TelemetryBackend {
  /** Where instruments record; replaces the no-op implementation. */
  metrics?: Metrics;
  /**
   * True once a global OpenTelemetry tracer provider, propagator and context manager are
   * registered: the core then opens a server span per request and plugins child spans.
   */
  tracing?: boolean;
  /** False turns the per-request access log line off (it is on by default). */
  accessLog?: boolean;
  /** Whether a request to `path` may start a trace (probes and scrapes usually may not). */
  shouldTrace?: (path: string) => boolean;
  /**
   * The share (0 to 1) of requests without a client `traceparent` that start a trace. The core
   * decides before it opens any span, so a request left out costs nothing; the ones it keeps
   * carry {@linkcode PRESAMPLED} in their parent context for the backend's sampler to honour.
   */
  sampleRatio?: number;
}

/** Set in the parent context of a request span the core has already sampled in. */
export const PRESAMPLED = createContextKey("edgebox.presampled");

/** Forwards instruments to whichever metrics backend is installed, now or later. */
export class TelemetryHub implements Metrics {
  #metrics: Metrics = noopMetrics;
  #generation = 0;
  #tracing = false;
  #accessLog = true;
  #shouldTrace: (path: string) => boolean = () => true;
  #sampleRatio = 1;

  /** Installs a backend; instruments created before pick it up on their next use. */
  install(backend: TelemetryBackend): void {
    if (backend.metrics) {
      this.#metrics = backend.metrics;
      this.#generation++;
    }
    if (backend.tracing) this.#tracing = true;
    if (backend.accessLog !== undefined) this.#accessLog = backend.accessLog;
    if (backend.shouldTrace) this.#shouldTrace = backend.shouldTrace;
    if (backend.sampleRatio !== undefined) this.#sampleRatio = backend.sampleRatio;
  }

  /** Whether a request that continues no client trace starts one (see `sampleRatio`). */
  samplesNewTrace(): boolean {
    return this.#sampleRatio >= 1 || Math.random() < this.#sampleRatio;
  }

  /** Whether a request to `path` gets a server span. */
  traces(path: string): boolean {
    return this.#tracing && this.#shouldTrace(path);
  }

  /** Whether each request is logged. */
  get accessLog(): boolean {
    return this.#accessLog;
  }

  /** Whether requests and plugin operations are traced. */
  get tracing(): boolean {
    return this.#tracing;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const bound = this.#bind(() => this.#metrics.counter(name, help, labelNames));
    return { inc: (labels, value) => bound().inc(labels, value) };
  }

  histogram(name: string, help: string, labelNames: readonly string[] = []): Histogram {
    const bound = this.#bind(() => this.#metrics.histogram(name, help, labelNames));
    return { observe: (value, labels) => bound().observe(value, labels) };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const bound = this.#bind(() => this.#metrics.gauge(name, help, labelNames));
    return { set: (value, labels) => bound().set(value, labels) };
  }

  #bind<T>(create: () => T): () => T {
    let instrument: T | undefined;
    let generation = -1;
    return () => {
      if (generation !== this.#generation) {
        instrument = create();
        generation = this.#generation;
      }
      return instrument!;
    };
  }
}

/** Metrics whose every series carries fixed labels (a plugin's `instance`, `type`). */
export function labelledMetrics(metrics: Metrics, fixed: Labels): Metrics {
  const names = Object.keys(fixed);
  const always = Object.freeze({ ...fixed });
  // A frozen label set stays one frozen object once merged, so backends can bind it once.
  const merged = new WeakMap<Labels, Labels>();
  const merge = (labels?: Labels): Labels => {
    if (!labels) return always;
    if (!Object.isFrozen(labels)) return { ...labels, ...fixed };
    let result = merged.get(labels);
    if (!result) merged.set(labels, result = Object.freeze({ ...labels, ...fixed }));
    return result;
  };
  return {
    counter: (name, help, labelNames = []) => {
      const counter = metrics.counter(name, help, [...labelNames, ...names]);
      return { inc: (labels, value) => counter.inc(merge(labels), value) };
    },
    histogram: (name, help, labelNames = []) => {
      const histogram = metrics.histogram(name, help, [...labelNames, ...names]);
      return { observe: (value, labels) => histogram.observe(value, merge(labels)) };
    },
    gauge: (name, help, labelNames = []) => {
      const gauge = metrics.gauge(name, help, [...labelNames, ...names]);
      return { set: (value, labels) => gauge.set(value, merge(labels)) };
    },
  };
}

const tracer = () => trace.getTracer("edgebox");

/** Runs `work` in a child span named `name` when tracing is on; just runs it otherwise. */
export function withSpan<T>(
  hub: TelemetryHub,
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!hub.tracing) return work();
  const shown = redactAttributes(attributes);
  return tracer().startActiveSpan(
    name,
    { kind: SpanKind.CLIENT, attributes: shown },
    async (span) => {
      try {
        return await work();
      } catch (error) {
        span.recordException(shownException(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Attributes with every string value passed through the redaction (`core/redact.ts`). */
export function redactAttributes(attributes: Attributes): Attributes {
  let shown: Attributes | undefined;
  for (const [key, value] of Object.entries(attributes)) {
    let redacted: typeof value = value;
    if (typeof value === "string") redacted = redactText(value);
    else if (Array.isArray(value) && value.some((item) => typeof item === "string")) {
      redacted = value.map((item) =>
        typeof item === "string" ? redactText(item) : item
      ) as typeof value;
    }
    if (redacted !== value) (shown ??= { ...attributes })[key] = redacted;
  }
  return shown ?? attributes;
}

/** What a span records of an error: its code or name, and its message and stack redacted. */
function shownException(error: unknown): Exception {
  if (!(error instanceof Error)) return redactText(String(error));
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: redactText(error.message),
    ...(error.stack === undefined ? {} : { stack: redactText(error.stack) }),
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
  };
}

/** W3C trace context of the active span (`traceparent`, `tracestate`), to put in a message. */
export function traceHeaders(hub: TelemetryHub): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (hub.tracing) propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `work` with the trace context carried in `headers` (a consumed message) as parent. */
export function withRemoteParent<T>(
  hub: TelemetryHub,
  headers: Record<string, string>,
  work: () => T,
): T {
  if (!hub.tracing) return work();
  return context.with(propagation.extract(context.active(), headers), work);
}

/**
 * Wraps a driver so every async method call is a child span (`cache.get`) and a latency
 * observation, without the driver knowing. Sync methods and properties pass through untouched.
 */
export function instrumentDriver<T extends object>(
  driver: T,
  options: { hub: TelemetryHub; type: string; metrics: Metrics; system?: string },
): T {
  const latency = options.metrics.histogram(
    "edgebox_plugin_operation_duration_seconds",
    "Duration of plugin driver operations",
    ["operation", "outcome"],
  );
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(driver, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (
        typeof value !== "function" || typeof property !== "string" || property === "constructor"
      ) {
        return value;
      }
      if (wrapped.has(property)) return wrapped.get(property);
      const operation = `${options.type}.${property}`;
      const outcomes = {
        ok: Object.freeze({ operation: property, outcome: "ok" }),
        error: Object.freeze({ operation: property, outcome: "error" }),
      };
      const method = function (this: unknown, ...args: unknown[]) {
        const started = performance.now();
        const observe = (outcome: "ok" | "error") =>
          latency.observe((performance.now() - started) / 1000, outcomes[outcome]);
        const call = () => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (resolved) => {
              observe("ok");
              return resolved;
            },
            (error) => {
              observe("error");
              throw error;
            },
          );
        };
        // Only as a child: a plugin's own background calls (the `ready` probe every few
        // seconds, reconnects) would otherwise each start a trace of their own.
        if (!options.hub.tracing || trace.getSpan(context.active()) === undefined) return call();
        const attributes: Attributes = { "edgebox.plugin.type": options.type };
        if (options.system) attributes["db.system"] = options.system;
        return withSpan(options.hub, operation, attributes, async () => await call());
      };
      wrapped.set(property, method);
      return method;
    },
  });
}

/** A server span for one request, or nothing when tracing is off. */
export interface RequestSpan {
  span: Span;
  /** The span's trace and span ids, when it is a real (recording or sampled-out) span. */
  ids: { traceId: string; spanId: string } | undefined;
  /** Runs the handler inside the span's context. */
  run<T>(work: () => T): T;
  /** Names the span by route template and ends it. */
  end(route: string, status: number): void;
}

/** Opens the server span of a request, continuing a client's `traceparent` when it sent one. */
export function startRequestSpan(
  hub: TelemetryHub,
  request: Request,
  method: string,
  path: string,
): RequestSpan | undefined {
  if (!hub.traces(path)) return undefined;
  const traceparent = request.headers.get("traceparent");
  let parent: Context;
  if (traceparent) {
    const carrier: Record<string, string> = { traceparent };
    const tracestate = request.headers.get("tracestate");
    if (tracestate) carrier.tracestate = tracestate;
    parent = propagation.extract(ROOT_CONTEXT, carrier);
  } else {
    // A new trace: sampled out here, before any span exists, a request costs nothing.
    if (!hub.samplesNewTrace()) return undefined;
    parent = ROOT_CONTEXT.setValue(PRESAMPLED, true);
  }
  const span = tracer().startSpan(method, {
    kind: SpanKind.SERVER,
    attributes: { "http.request.method": method, "url.path": path },
  }, parent);
  const active = trace.setSpan(parent, span);
  const spanContext = span.spanContext();
  return {
    span,
    ids: isSpanContextValid(spanContext)
      ? { traceId: spanContext.traceId, spanId: spanContext.spanId }
      : undefined,
    run: (work) => context.with(active, work),
    end(route, status) {
      span.updateName(`${method} ${route}`);
      span.setAttribute("http.route", route);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}
