/**
 * Specification of the observability plugin's metrics: `/metrics` is valid Prometheus text
 * (checked with a real parser) that reflects traffic by route template, plugin states,
 * plugins' own instruments and the process; it is protected by scope `metrics:read` unless
 * public; and the prom-client backend deduplicates instruments and bounds series.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { Registry } from "prom-client";
import { ConfigError } from "../../core/config.ts";
import { registerProcessMetrics } from "../../plugins/observability/process_metrics.ts";
import { PromMetrics } from "../../plugins/observability/prom_metrics.ts";
import { loadConfig, problemOf, SANITIZED, waitFor } from "../_helpers.ts";
import {
  family,
  observabilityRegistry,
  observabilityYaml,
  openObservedApp,
  parseMetrics,
  scrape,
  series,
  valueOf,
} from "./_observability_helpers.ts";

const READER = "reader-key-0123456789";
const OTHER = "other-key-0123456789";
const AUTH = {
  auth: {
    keys: [
      { name: "prometheus", key: READER, scopes: ["metrics:read"] },
      { name: "app", key: OTHER, scopes: ["echo:read"] },
    ],
  },
};
const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

// --- the scrape ----------------------------------------------------------------------------

Deno.test(
  "http_requests_total counts requests by route template, never by raw path or query",
  SANITIZED,
  async () => {
    await using running = await openObservedApp();
    for (const ms of [1, 2, 1]) {
      const response = await running.request(`/v1/echo/delay?ms=${ms}`);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }

    const families = await scrape(running);

    assert.equal(family(families, "http_requests_total")?.type, "COUNTER");
    assert.equal(
      valueOf(families, "http_requests_total", {
        method: "GET",
        route: "/v1/echo/delay",
        status: "200",
      }),
      3,
    );
    const routes = series(families, "http_requests_total").map((s) => s.labels?.route ?? "");
    for (const route of routes) assert.doesNotMatch(route, /[?=]|delay\/|ms/);
  },
);

Deno.test("http_requests_total moves with each request", SANITIZED, async () => {
  await using running = await openObservedApp();
  const labels = { method: "GET", route: "/v1/echo", status: "200" };
  const before = valueOf(await scrape(running), "http_requests_total", labels) ?? 0;

  const response = await running.request("/v1/echo");
  await response.body?.cancel();

  assert.equal(valueOf(await scrape(running), "http_requests_total", labels), before + 1);
});

Deno.test("liveness probes are counted under route /health", SANITIZED, async () => {
  await using running = await openObservedApp();
  const labels = { method: "GET", route: "/health", status: "200" };
  const before = valueOf(await scrape(running), "http_requests_total", labels) ?? 0;

  for (let i = 0; i < 3; i++) {
    const response = await running.request("/health");
    await response.body?.cancel();
  }

  const families = await scrape(running);
  assert.equal(valueOf(families, "http_requests_total", labels), before + 3);
  const [timed] = series(families, "http_request_duration_seconds", labels);
  assert.ok(Number(timed?.count) >= 3, "each probe is timed too");
});

Deno.test("a parameter's pattern is not part of the route label", SANITIZED, async () => {
  await using running = await openObservedApp();
  const response = await running.request("/v1/widgets/files/a/b/c.txt");
  assert.equal(response.status, 200);
  await response.body?.cancel();

  const families = await scrape(running);

  assert.equal(
    valueOf(families, "http_requests_total", { route: "/v1/widgets/files/:path" }),
    1,
  );
});

Deno.test("a path no route matches is labelled (unmatched)", SANITIZED, async () => {
  await using running = await openObservedApp();
  const response = await running.request("/no/such/path/12345");
  await response.body?.cancel();

  const families = await scrape(running);

  assert.equal(
    valueOf(families, "http_requests_total", { route: "(unmatched)", status: "404" }),
    1,
  );
});

Deno.test(
  "http_request_duration_seconds is a histogram with the configured buckets",
  SANITIZED,
  async () => {
    await using running = await openObservedApp({
      observability: { metrics: { defaultBuckets: [0.01, 0.1, 1] } },
    });
    const response = await running.request("/v1/echo/delay?ms=1");
    await response.body?.cancel();

    const families = await scrape(running);

    assert.equal(family(families, "http_request_duration_seconds")?.type, "HISTOGRAM");
    const [sample] = series(families, "http_request_duration_seconds", {
      route: "/v1/echo/delay",
    });
    assert.ok(sample?.buckets);
    assert.deepEqual(Object.keys(sample.buckets).sort(), ["+Inf", "0.01", "0.1", "1"].sort());
    assert.equal(sample.count, "1");
    assert.equal(sample.buckets["+Inf"], "1");
  },
);

Deno.test("edgebox_plugin_state reports each instance's current state", SANITIZED, async () => {
  await using running = await openObservedApp();

  const families = await scrape(running);

  assert.equal(family(families, "edgebox_plugin_state")?.type, "GAUGE");
  for (const instance of ["echo", "widgets", "observability"]) {
    assert.equal(valueOf(families, "edgebox_plugin_state", { instance, state: "ready" }), 1);
    assert.equal(valueOf(families, "edgebox_plugin_state", { instance, state: "starting" }), 0);
  }
  assert.equal(
    series(families, "edgebox_plugin_state", { instance: "echo", state: "ready" })[0]?.labels
      ?.type,
    "echo",
  );
});

Deno.test("a plugin's own counter is exported with its instance label", SANITIZED, async () => {
  await using running = await openObservedApp();
  const response = await running.request("/v1/widgets/items/w1");
  await response.body?.cancel();

  const families = await scrape(running);

  assert.equal(
    valueOf(families, "widgets_served_total", { instance: "widgets", outcome: "ok" }),
    1,
  );
});

Deno.test(
  "an instrumented driver's calls are timed as edgebox_plugin_operation_duration_seconds",
  SANITIZED,
  async () => {
    await using running = await openObservedApp();
    for (const path of ["/v1/widgets/items/w1", "/v1/widgets/explode"]) {
      const response = await running.request(path);
      await response.body?.cancel();
    }

    const families = await scrape(running);

    const ok = series(families, "edgebox_plugin_operation_duration_seconds", {
      instance: "widgets",
      operation: "get",
      outcome: "ok",
    });
    const failed = series(families, "edgebox_plugin_operation_duration_seconds", {
      instance: "widgets",
      operation: "explode",
      outcome: "error",
    });
    assert.equal(ok[0]?.count, "1");
    assert.equal(failed[0]?.count, "1");
  },
);

Deno.test(
  "two instances of one plugin type share one metric family, told apart by instance",
  SANITIZED,
  async () => {
    await using running = await openObservedApp({
      plugins: { gadgets: { type: "widgets", backend: "memory" } },
    });
    for (const path of ["/v1/widgets/items/a", "/v1/gadgets/items/b", "/v1/gadgets/items/c"]) {
      const response = await running.request(path);
      await response.body?.cancel();
    }

    const families = await scrape(running);

    assert.equal(families.filter((f) => f.name === "widgets_served_total").length, 1);
    assert.equal(valueOf(families, "widgets_served_total", { instance: "widgets" }), 1);
    assert.equal(valueOf(families, "widgets_served_total", { instance: "gadgets" }), 2);
  },
);

Deno.test(
  "process metrics report resident memory, heap, CPU, open sockets and event loop lag",
  SANITIZED,
  async () => {
    await using running = await openObservedApp({
      observability: { metrics: { eventLoopInterval: "10ms" } },
    });
    // The lag histogram fills as the sampler ticks.
    await waitFor(async () => {
      const [lag] = series(await scrape(running), "edgebox_event_loop_lag_seconds");
      return Number(lag?.count ?? 0) >= 2;
    }, "event loop lag samples");

    const families = await scrape(running);

    assert.ok(valueOf(families, "process_resident_memory_bytes")! > 1_000_000);
    assert.ok(valueOf(families, "nodejs_heap_size_used_bytes")! > 0);
    assert.ok(valueOf(families, "process_cpu_seconds_total")! > 0);
    assert.ok(valueOf(families, "process_open_fds")! > 0);
    assert.equal(typeof valueOf(families, "edgebox_open_sockets"), "number");
    assert.equal(family(families, "edgebox_event_loop_lag_seconds")?.type, "HISTOGRAM");
    assert.ok(valueOf(families, "edgebox_event_loop_lag_max_seconds")! >= 0);
    assert.equal(valueOf(families, "edgebox_build_info", { deno: Deno.version.deno }), 1);
    // The collectors that read zeros under Deno are not exported.
    assert.equal(family(families, "nodejs_eventloop_lag_seconds"), undefined);
    assert.equal(family(families, "nodejs_gc_duration_seconds"), undefined);
  },
);

Deno.test("CPU time counts from the start of the process, user plus system", async () => {
  const before = process.cpuUsage();
  const registry = new Registry();
  registerProcessMetrics(registry, { lagInterval: 1_000 }); // its sampler is never started
  const value = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? NaN;
  // The user counter's collect updates all three; it is collected first, as a scrape does.
  const user = await value("process_cpu_user_seconds_total");
  const system = await value("process_cpu_system_seconds_total");
  const total = await value("process_cpu_seconds_total");
  assert.ok(user >= before.user / 1e6, `${user}s of user CPU, ${before.user / 1e6}s before`);
  assert.ok(system >= before.system / 1e6, `${system}s of system CPU`);
  assert.ok(Math.abs(total - (user + system)) < 1e-9, `${total} = ${user} + ${system}`);
});

Deno.test("metrics.process false leaves the process metrics out", SANITIZED, async () => {
  await using running = await openObservedApp({
    observability: { metrics: { process: false } },
  });

  const families = await scrape(running);

  assert.equal(family(families, "process_resident_memory_bytes"), undefined);
  assert.ok(family(families, "edgebox_plugin_state"));
});

// --- the endpoint ---------------------------------------------------------------------------

Deno.test("/metrics answers 401 without an API key when auth is on", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH });

  const response = await running.request("/metrics");

  assert.equal(response.status, 401);
  assert.equal((await problemOf(response)).code, "core.unauthorized");
});

Deno.test("/metrics answers 403 to a key without scope metrics:read", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH });

  const response = await running.request("/metrics", bearer(OTHER));

  assert.equal(response.status, 403);
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.forbidden");
  assert.equal(problem.requiredScope, "metrics:read");
});

Deno.test("/metrics answers a key with scope metrics:read", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH });

  const families = await scrape(running, bearer(READER));

  assert.ok(family(families, "edgebox_plugin_state"));
});

Deno.test("metrics.public serves /metrics without a key", SANITIZED, async () => {
  await using running = await openObservedApp({
    root: AUTH,
    observability: { metrics: { public: true } },
  });

  const families = await scrape(running);

  assert.ok(family(families, "edgebox_plugin_state"));
});

Deno.test("metrics.path moves the endpoint", SANITIZED, async () => {
  await using running = await openObservedApp({
    observability: { metrics: { path: "/internal/prometheus" } },
  });

  const families = await scrape(running, {}, "/internal/prometheus");
  const old = await running.request("/metrics");
  await old.body?.cancel();

  assert.ok(family(families, "edgebox_plugin_state"));
  assert.equal(old.status, 404);
});

Deno.test("metrics.enabled false serves no /metrics", SANITIZED, async () => {
  await using running = await openObservedApp({
    observability: { metrics: { enabled: false } },
  });

  const response = await running.request("/metrics");
  await response.body?.cancel();

  assert.equal(response.status, 404);
});

Deno.test("/metrics is described in /openapi.json", SANITIZED, async () => {
  await using running = await openObservedApp();

  const spec = await (await running.request("/openapi.json")).json();

  assert.ok(spec.paths["/metrics"]?.get);
  assert.ok(spec.paths["/v1/observability/log-level"]?.put);
});

// --- config --------------------------------------------------------------------------------

function configIssues(observability: Record<string, unknown>): { path: string }[] {
  try {
    loadConfig(observabilityYaml({ observability }), observabilityRegistry());
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.issues.map((issue) => ({ path: issue.path.join(".") }));
    }
    throw error;
  }
  return [];
}

Deno.test("an unknown observability key is refused, naming it", () => {
  assert.deepEqual(configIssues({ metrics: { enabeld: true } }).map((i) => i.path), [
    "plugins.observability.metrics.enabeld",
  ]);
});

Deno.test("histogram buckets must be strictly increasing", () => {
  assert.deepEqual(configIssues({ metrics: { defaultBuckets: [1, 0.5] } }).map((i) => i.path), [
    "plugins.observability.metrics.defaultBuckets",
  ]);
});

Deno.test("metrics.path may not shadow a core route or sit under /v1", () => {
  for (const path of ["/health", "/v1/metrics", "metrics", "/a b"]) {
    assert.deepEqual(configIssues({ metrics: { path } }).map((i) => i.path), [
      "plugins.observability.metrics.path",
    ], path);
  }
});

Deno.test("tracing.sampleRatio must lie between 0 and 1", () => {
  assert.deepEqual(configIssues({ tracing: { sampleRatio: 1.5 } }).map((i) => i.path), [
    "plugins.observability.tracing.sampleRatio",
  ]);
});

Deno.test("tracing.endpoint must be an http(s) URL", () => {
  assert.deepEqual(configIssues({ tracing: { endpoint: "grpc://x:4317" } }).map((i) => i.path), [
    "plugins.observability.tracing.endpoint",
  ]);
});

// --- the prom-client backend ---------------------------------------------------------------

function promMetrics(maxSeries = 100) {
  const registry = new Registry();
  const problems: Record<string, unknown>[] = [];
  const metrics = new PromMetrics({
    registry,
    buckets: [0.1, 1],
    maxSeries,
    onProblem: (message, fields) => problems.push({ message, ...fields }),
  });
  return { registry, metrics, problems };
}

Deno.test(
  "a frozen label set, recorded without prom-client's lookup, exports the same figures",
  async () => {
    const { registry, metrics } = promMetrics();
    const counter = metrics.counter("hits_total", "Hits", ["route"]);
    const histogram = metrics.histogram("took_seconds", "Took", ["route"]);
    const frozen = Object.freeze({ route: "/a" });
    const values = [0.0005, 0.003, 0.003, 0.2, 7];

    for (const value of values) {
      counter.inc(frozen);
      counter.inc({ route: "/b" });
      histogram.observe(value, frozen);
      histogram.observe(value, { route: "/b" });
    }
    counter.inc(frozen, 2);
    const gauge = metrics.gauge("level", "Level", ["route"]);
    const unlabelled = metrics.gauge("in_flight", "In flight");
    for (const value of [3, 9, 4]) {
      gauge.set(value, frozen);
      unlabelled.set(value);
    }

    const families = parseMetrics(await registry.metrics());
    assert.equal(valueOf(families, "level", { route: "/a" }), 4, "a gauge shows its last value");
    assert.equal(valueOf(families, "in_flight"), 4);
    assert.equal(valueOf(families, "hits_total", { route: "/a" }), values.length + 2);
    assert.equal(valueOf(families, "hits_total", { route: "/b" }), values.length);
    const [fast] = series(families, "took_seconds", { route: "/a" });
    const [plain] = series(families, "took_seconds", { route: "/b" });
    assert.ok(fast && plain);
    assert.deepEqual(fast.buckets, plain.buckets);
    assert.equal(fast.count, String(values.length));
    assert.equal(Number(fast.sum), Number(plain.sum));
    assert.equal(fast.buckets?.["0.1"], "3"); // buckets [0.1, 1]: cumulative counts
    assert.equal(fast.buckets?.["+Inf"], String(values.length));
  },
);

Deno.test("asking twice for one metric name returns the same instrument", async () => {
  const { registry, metrics } = promMetrics();

  metrics.counter("jobs_total", "Jobs", ["instance"]).inc({ instance: "a" });
  metrics.counter("jobs_total", "Jobs", ["instance"]).inc({ instance: "a" }, 2);

  const families = parseMetrics(await registry.metrics());
  assert.equal(valueOf(families, "jobs_total", { instance: "a" }), 3);
});

Deno.test(
  "a name declared again with another kind or labels is reported and records nothing",
  async () => {
    const { registry, metrics, problems } = promMetrics();
    metrics.counter("jobs_total", "Jobs", ["instance"]).inc({ instance: "a" });

    metrics.gauge("jobs_total", "Jobs", ["instance"]).set(7, { instance: "a" });
    metrics.counter("jobs_total", "Jobs", ["queue"]).inc({ queue: "q" });

    const families = parseMetrics(await registry.metrics());
    assert.equal(valueOf(families, "jobs_total", { instance: "a" }), 1);
    assert.equal(problems.length, 2);
    assert.equal(problems[0]?.metric, "jobs_total");
  },
);

Deno.test("label order does not make a different metric", async () => {
  const { registry, metrics, problems } = promMetrics();

  metrics.counter("jobs_total", "Jobs", ["a", "b"]).inc({ a: "1", b: "2" });
  metrics.counter("jobs_total", "Jobs", ["b", "a"]).inc({ a: "1", b: "2" });

  assert.equal(problems.length, 0);
  assert.equal(valueOf(parseMetrics(await registry.metrics()), "jobs_total"), 2);
});

Deno.test("an observation with an undeclared label is reported, not thrown", async () => {
  const { registry, metrics, problems } = promMetrics();
  const counter = metrics.counter("jobs_total", "Jobs", ["queue"]);

  counter.inc({ queue: "q", surprise: "x" });
  counter.inc({ queue: "q" });

  assert.equal(problems.length, 1);
  assert.equal(valueOf(parseMetrics(await registry.metrics()), "jobs_total"), 1);
});

Deno.test("an invalid metric name is reported and yields a no-op instrument", () => {
  const { metrics, problems } = promMetrics();

  metrics.histogram("not a name", "Bad").observe(1);

  assert.equal(problems.length, 1);
});

Deno.test("a metric stops growing at maxSeries and counts what it dropped", async () => {
  const { registry, metrics, problems } = promMetrics(2);
  const gauge = metrics.gauge("queue_depth", "Depth", ["queue"]);

  for (const queue of ["a", "b", "c", "d", "a"]) gauge.set(1, { queue });

  const families = parseMetrics(await registry.metrics());
  assert.deepEqual(series(families, "queue_depth").map((s) => s.labels?.queue).sort(), [
    "a",
    "b",
  ]);
  assert.equal(
    valueOf(families, "edgebox_metrics_series_dropped_total", { metric: "queue_depth" }),
    2,
  );
  assert.equal(problems.length, 1);
});

Deno.test("maxSeries counts whole label sets, not label values", async () => {
  const { registry, metrics } = promMetrics(3);
  const counter = metrics.counter("hits_total", "Hits", ["method", "route"]);

  const calls = ["GET /a", "GET /b", "PUT /a", "PUT /b", "GET /a"].map((call) => call.split(" "));
  for (const [method, route] of calls) counter.inc({ method: method!, route: route! });

  const families = parseMetrics(await registry.metrics());
  assert.equal(series(families, "hits_total").length, 3);
  assert.equal(valueOf(families, "hits_total", { method: "GET", route: "/a" }), 2);
  assert.equal(valueOf(families, "hits_total", { method: "PUT", route: "/b" }), undefined);
});

Deno.test("histograms use the configured default buckets", async () => {
  const { registry, metrics } = promMetrics();

  metrics.histogram("job_seconds", "Job time").observe(0.5);

  const [sample] = series(parseMetrics(await registry.metrics()), "job_seconds");
  assert.deepEqual(sample?.buckets, { "0.1": "0", "1": "1", "+Inf": "1" });
});
