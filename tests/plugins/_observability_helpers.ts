/**
 * Shared pieces of the observability tests: a small traced test plugin (`widgets`), configs
 * with the observability block, a `/metrics` scraper built on a real Prometheus text parser,
 * and an OTLP/HTTP receiver that collects the spans edgebox exports.
 */
import { stringify } from "yaml";
import { z } from "zod";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { definePlugin, type PluginDefinition, type PluginRegistry } from "../../core/plugin.ts";
import { createRouter } from "../../core/routes.ts";
import type { Logger } from "../../core/log.ts";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import { observabilityPlugin } from "../../plugins/observability/mod.ts";
import { FAST_SETTINGS, openApp, type RunningApp } from "../_helpers.ts";

/** What the widgets driver does: one async lookup, and one that fails. */
export interface WidgetsDriver {
  get(id: string): Promise<{ id: string }>;
  explode(): Promise<never>;
}

/** The in-memory widgets "backend". */
class MemoryWidgets implements WidgetsDriver {
  async get(id: string): Promise<{ id: string }> {
    await Promise.resolve(); // a real await, so the span outlives one microtask
    return { id };
  }
  async explode(): Promise<never> {
    await Promise.resolve();
    throw new Error("Cannot reach widgets backend: told to fail");
  }
}

/**
 * A test plugin whose routes go through a driver wrapped by `ctx.instrument` (child spans
 * `widgets.get`, operation latency), one `ctx.span`, its own counter, a request log line, and
 * which returns `ctx.traceHeaders()` so tests can see the context a message would carry.
 */
export const widgetsPlugin = definePlugin({
  type: "widgets",
  description: "Traced test plugin",
  config: z.strictObject({ backend: z.literal("memory").default("memory") }),
  create(ctx) {
    const driver = ctx.instrument<WidgetsDriver>(new MemoryWidgets(), { system: "memory" });
    const served = ctx.metrics.counter("widgets_served_total", "Widgets served", ["outcome"]);
    const routes = createRouter();
    routes.get("/items/:id", async (c) => {
      const widget = await driver.get(c.req.param("id"));
      const rendered = await ctx.span("widgets.render", { "widget.id": widget.id }, () => {
        c.env.log.info("widget served", { id: widget.id });
        return Promise.resolve({ ...widget, carried: ctx.traceHeaders() });
      });
      served.inc({ outcome: "ok" });
      return c.json(rendered);
    });
    routes.get("/files/:path{.+}", (c) => c.json({ path: c.req.param("path") }));
    routes.get("/explode", async (c) => {
      await driver.explode();
      return c.json({});
    });
    return { routes };
  },
});

/** echo, observability and widgets. */
export function observabilityRegistry(): PluginRegistry {
  const definitions: PluginDefinition[] = [echoPlugin, observabilityPlugin, widgetsPlugin];
  return new Map(definitions.map((definition) => [definition.type, definition]));
}

/** Options of {@linkcode observabilityYaml}. */
export interface ObservabilityYamlOptions {
  /** The observability block's own fields (`metrics`, `tracing`, `accessLog`). */
  observability?: Record<string, unknown>;
  /** Extra instances: name -> block (give `type`). */
  plugins?: Record<string, Record<string, unknown>>;
  /** Root sections (`auth:`, `log:`). */
  root?: Record<string, unknown>;
}

/** Config text with echo, widgets and observability on fast lifecycle settings. */
export function observabilityYaml(options: ObservabilityYamlOptions = {}): string {
  const { backend: _backend, ...common } = FAST_SETTINGS;
  return stringify({
    ...options.root,
    plugins: {
      observability: {
        ...common,
        // Flushing spans at stop posts to the collector: give it more than the fast default.
        timeouts: { ...common.timeouts, stop: "5s" },
        ...options.observability,
      },
      echo: { ...FAST_SETTINGS },
      widgets: { ...FAST_SETTINGS },
      ...options.plugins,
    },
  });
}

/** Builds and starts an app with the observability registry. */
export function openObservedApp(
  options: ObservabilityYamlOptions = {},
  log?: Logger,
): Promise<RunningApp> {
  return openApp(observabilityYaml(options), observabilityRegistry(), log ? { log } : {});
}

/** One series of a parsed metric family (see parse-prometheus-text-format). */
export interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

/** One parsed metric family. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Sample[];
}

/**
 * Parses Prometheus text exposition with a real parser (it throws on malformed input).
 *
 * parse-prometheus-text-format flattens every series of a histogram into one and drops their
 * labels, so histogram families are rebuilt from a second pass that reads their `_bucket`,
 * `_sum` and `_count` lines as untyped samples, which it keeps with their labels.
 */
export function parseMetrics(text: string): MetricFamily[] {
  const parse = parsePrometheusTextFormat as (text: string) => MetricFamily[];
  const families = parse(text);
  const histograms = families.filter((f) => f.type === "HISTOGRAM").map((f) => f.name);
  if (histograms.length === 0) return families;
  const untyped = parse(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"));
  // Each series' `_bucket` run is a family of its own there: gather them all.
  const samplesOf = (name: string) =>
    untyped.filter((f) => f.name === name).flatMap((f) => f.metrics);
  for (const name of histograms) {
    const byLabels = new Map<string, Sample>();
    const seriesFor = (labels: Record<string, string>) => {
      const key = JSON.stringify(Object.entries(labels).sort());
      let sample = byLabels.get(key);
      if (!sample) byLabels.set(key, sample = { labels, buckets: {} });
      return sample;
    };
    for (const { labels = {}, value } of samplesOf(`${name}_bucket`)) {
      const { le, ...rest } = labels;
      seriesFor(rest).buckets![le!] = value!;
    }
    for (const { labels = {}, value } of samplesOf(`${name}_sum`)) seriesFor(labels).sum = value!;
    for (const { labels = {}, value } of samplesOf(`${name}_count`)) {
      seriesFor(labels).count = value!;
    }
    families.find((f) => f.name === name)!.metrics = [...byLabels.values()];
  }
  return families;
}

/** Scrapes `path` of the app, checks the content type, and parses the body. */
export async function scrape(
  running: RunningApp,
  init: RequestInit = {},
  path = "/metrics",
): Promise<MetricFamily[]> {
  const response = await running.request(path, init);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${body}`);
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) {
    throw new Error(`Expected Prometheus text format, got "${type}"`);
  }
  return parseMetrics(body);
}

/** The family called `name`, or undefined. */
export function family(families: MetricFamily[], name: string): MetricFamily | undefined {
  return families.find((f) => f.name === name);
}

/** The series of `name` whose labels include every one of `labels`. */
export function series(
  families: MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return (family(families, name)?.metrics ?? []).filter((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value)
  );
}

/** The value of the one series of `name` matching `labels` (a counter or gauge). */
export function valueOf(
  families: MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const [sample, ...more] = series(families, name, labels);
  if (more.length > 0) throw new Error(`${name} ${JSON.stringify(labels)} matches several series`);
  return sample?.value === undefined ? undefined : Number(sample.value);
}

/** An OTLP span as the JSON encoding carries it. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

/** A request the receiver got. */
export interface OtlpRequest {
  path: string;
  contentType: string | null;
  body: string;
}

/** A local OTLP/HTTP collector stand-in. */
export interface OtlpReceiver extends AsyncDisposable {
  /** Base URL for `tracing.endpoint`. */
  endpoint: string;
  requests: OtlpRequest[];
  /** Every span received so far, with the service name of its resource. */
  spans(): (OtlpSpan & { service: string })[];
  close(): Promise<void>;
}

/** Starts an OTLP/HTTP receiver on a free loopback port; it answers every POST with `{}`. */
export function startOtlpReceiver(): OtlpReceiver {
  const requests: OtlpRequest[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      requests.push({
        path: new URL(request.url).pathname,
        contentType: request.headers.get("content-type"),
        body: await request.text(),
      });
      return Response.json({});
    },
  );
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    requests,
    spans() {
      const spans: (OtlpSpan & { service: string })[] = [];
      for (const request of requests) {
        const document = JSON.parse(request.body) as {
          resourceSpans: {
            resource: { attributes: OtlpSpan["attributes"] };
            scopeSpans: { spans: OtlpSpan[] }[];
          }[];
        };
        for (const resourceSpans of document.resourceSpans) {
          const service = resourceSpans.resource.attributes
            .find((a) => a.key === "service.name")?.value.stringValue;
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) spans.push({ ...span, service: String(service) });
          }
        }
      }
      return spans;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The value of a span attribute (string, int or bool), or undefined. */
export function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if ("stringValue" in value) return value.stringValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("boolValue" in value) return value.boolValue;
  if ("doubleValue" in value) return value.doubleValue;
  return value;
}
