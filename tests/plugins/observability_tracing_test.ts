/**
 * Specification of the observability plugin's tracing: a request through a plugin reaches an
 * OTLP/HTTP receiver (JSON) as a server span named by route template with child spans for its
 * driver calls, a client's `traceparent` is continued, log lines carry the trace, and stopping
 * flushes what is queued. Spans are read after `lifecycle.stop()`, which flushes the batch
 * processor, so no test waits on export timers.
 */
import assert from "node:assert/strict";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { capturingLog, openApp, SANITIZED, waitFor } from "../_helpers.ts";
import {
  attribute,
  observabilityRegistry,
  observabilityYaml,
  openObservedApp,
  type OtlpReceiver,
  startOtlpReceiver,
} from "./_observability_helpers.ts";

const SERVER = 2;
const CLIENT = 3;

/** Tracing on, pointed at `receiver`, with a batch delay long enough that only stop flushes. */
function tracing(receiver: OtlpReceiver, extra: Record<string, unknown> = {}) {
  return {
    observability: {
      tracing: {
        enabled: true,
        endpoint: receiver.endpoint,
        serviceName: "edgebox-test",
        exportDelay: "1m",
        ...extra,
      },
    },
  };
}

async function get(
  running: { request(path: string, init?: RequestInit): Promise<Response> },
  path: string,
  headers: Record<string, string> = {},
) {
  const response = await running.request(path, { headers });
  return { status: response.status, body: await response.json() };
}

Deno.test(
  "a request through a plugin exports a server span and child spans of one trace",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    await using running = await openObservedApp(tracing(receiver));

    assert.equal((await get(running, "/v1/widgets/items/w1")).status, 200);
    await running.lifecycle.stop();

    const spans = receiver.spans();
    const server = spans.find((s) => s.kind === SERVER && s.name.includes("/v1/widgets"));
    const child = spans.find((s) => s.name === "widgets.get");
    assert.ok(server, `no server span among ${spans.map((s) => s.name)}`);
    assert.ok(child, `no widgets.get span among ${spans.map((s) => s.name)}`);
    assert.equal(server.name, "GET /v1/widgets/items/:id");
    assert.equal(attribute(server, "http.route"), "/v1/widgets/items/:id");
    assert.equal(attribute(server, "http.request.method"), "GET");
    assert.equal(attribute(server, "http.response.status_code"), 200);
    assert.equal(server.parentSpanId ?? "", "");
    assert.equal(child.traceId, server.traceId);
    assert.equal(child.parentSpanId, server.spanId);
    assert.equal(child.kind, CLIENT);
    assert.equal(attribute(child, "db.system"), "memory");
    assert.equal(server.service, "edgebox-test");
  },
);

Deno.test("ctx.span opens a child of the request's span", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver));

  await get(running, "/v1/widgets/items/w2");
  await running.lifecycle.stop();

  const spans = receiver.spans();
  const server = spans.find((s) => s.kind === SERVER)!;
  const render = spans.find((s) => s.name === "widgets.render");
  assert.ok(render);
  assert.equal(render.parentSpanId, server.spanId);
  assert.equal(attribute(render, "widget.id"), "w2");
});

Deno.test(
  "spans are exported over OTLP/HTTP as JSON to <endpoint>/v1/traces",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    await using running = await openObservedApp(tracing(receiver));

    await get(running, "/v1/widgets/items/w1");
    await running.lifecycle.stop();

    assert.ok(receiver.requests.length > 0);
    for (const request of receiver.requests) {
      assert.equal(request.path, "/v1/traces");
      assert.match(request.contentType ?? "", /^application\/json/);
    }
  },
);

Deno.test("a client's traceparent is continued", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver));
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const parentId = "00f067aa0ba902b7";

  await get(running, "/v1/widgets/items/w1", { traceparent: `00-${traceId}-${parentId}-01` });
  await running.lifecycle.stop();

  const spans = receiver.spans();
  const server = spans.find((s) => s.kind === SERVER);
  assert.ok(server);
  assert.equal(server.traceId, traceId);
  assert.equal(server.parentSpanId, parentId);
  assert.ok(spans.filter((s) => s.kind !== SERVER).every((s) => s.traceId === traceId));
});

Deno.test("a malformed traceparent starts a new trace", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver));

  const { status } = await get(running, "/v1/widgets/items/w1", { traceparent: "00-zz-nope-01" });
  await running.lifecycle.stop();

  assert.equal(status, 200);
  const server = receiver.spans().find((s) => s.kind === SERVER);
  assert.ok(server);
  assert.match(server.traceId, /^[0-9a-f]{32}$/);
  assert.equal(server.parentSpanId ?? "", "");
});

Deno.test(
  "ctx.traceHeaders carries the active span's context, as a published message would",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    await using running = await openObservedApp(tracing(receiver));

    const { body } = await get(running, "/v1/widgets/items/w1");
    await running.lifecycle.stop();

    const render = receiver.spans().find((s) => s.name === "widgets.render")!;
    assert.equal(body.carried.traceparent, `00-${render.traceId}-${render.spanId}-01`);
  },
);

Deno.test("a failed driver call marks its span as an error", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver));

  assert.equal((await get(running, "/v1/widgets/explode")).status, 500);
  await running.lifecycle.stop();

  const spans = receiver.spans();
  const explode = spans.find((s) => s.name === "widgets.explode");
  const server = spans.find((s) => s.kind === SERVER);
  assert.equal(explode?.status?.code, 2);
  assert.equal(server?.status?.code, 2);
});

Deno.test("log lines of a traced request carry its trace and span ids", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  const { log, lines } = capturingLog();
  await using running = await openObservedApp(tracing(receiver), log);

  await get(running, "/v1/widgets/items/w1");
  await running.lifecycle.stop();

  const server = receiver.spans().find((s) => s.kind === SERVER)!;
  const handlerLine = lines.find((line) => line.msg === "widget served");
  const accessLine = lines.find((line) =>
    line.msg === "request" && line.route === server.name.slice(4)
  );
  assert.equal(handlerLine?.traceId, server.traceId);
  assert.equal(handlerLine?.spanId, server.spanId);
  assert.equal(typeof handlerLine?.requestId, "string");
  assert.equal(accessLine?.traceId, server.traceId);
});

Deno.test("probes and metrics scrapes start no traces", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver));

  for (const path of ["/health", "/ready", "/metrics", "/v1/widgets/items/w1"]) {
    const response = await running.request(path);
    await response.body?.cancel();
  }
  await running.lifecycle.stop();

  const servers = receiver.spans().filter((s) => s.kind === SERVER).map((s) => s.name);
  assert.deepEqual(servers, ["GET /v1/widgets/items/:id"]);
});

Deno.test("tracing.ignorePaths replaces the default probe paths", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver, { ignorePaths: ["/ready"] }));

  for (const path of ["/health", "/ready"]) {
    const response = await running.request(path);
    await response.body?.cancel();
  }
  await running.lifecycle.stop();

  const servers = receiver.spans().filter((s) => s.kind === SERVER).map((s) => s.name);
  assert.deepEqual(servers, ["GET /health"]);
});

Deno.test(
  "a plugin's background driver calls (its ready probe) start no traces of their own",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    const registry = new Map([...observabilityRegistry(), ["graph", graphPlugin]]);
    await using running = await openApp(
      observabilityYaml({
        ...tracing(receiver),
        plugins: { graph: { backend: "memory", healthInterval: "20ms" } },
      }),
      registry,
    );
    // The ready probe, as the lifecycle runs it every healthInterval.
    const graph = running.lifecycle.get("graph")!.instance;
    for (let i = 0; i < 3; i++) await graph.ready!();
    const response = await running.request("/v1/graph/nodes/Feature/none");
    await response.body?.cancel();
    await running.lifecycle.stop();

    const names = receiver.spans().map((s) => s.name).sort();
    assert.deepEqual(names, ["GET /v1/graph/nodes/:label/:id", "graph.getNode"]);
  },
);

Deno.test("sampleRatio 0 records no new traces", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver, { sampleRatio: 0 }));

  assert.equal((await get(running, "/v1/widgets/items/w1")).status, 200);
  await running.lifecycle.stop();

  assert.deepEqual(receiver.spans(), []);
});

Deno.test(
  "sampleRatio applies once: at 0.5 about half of new traces are kept, not a quarter",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    await using running = await openObservedApp(tracing(receiver, { sampleRatio: 0.5 }));
    const requests = 400;

    for (let i = 0; i < requests; i++) {
      const response = await running.request("/v1/echo");
      await response.body?.cancel();
    }
    await running.lifecycle.stop();

    // Binomial(400, 0.5) lies within 140..260 but for odds far below one in a billion;
    // sampling twice (0.25) would land near 100.
    const kept = receiver.spans().filter((s) => s.kind === SERVER).length;
    assert.ok(kept >= 140 && kept <= 260, `${kept} of ${requests} new traces kept`);
  },
);

Deno.test("sampleRatio 0 still follows a client that sampled its trace", SANITIZED, async () => {
  await using receiver = startOtlpReceiver();
  await using running = await openObservedApp(tracing(receiver, { sampleRatio: 0 }));
  const traceId = "0af7651916cd43dd8448eb211c80319c";

  await get(running, "/v1/widgets/items/w1", {
    traceparent: `00-${traceId}-b7ad6b7169203331-01`,
  });
  await running.lifecycle.stop();

  assert.ok(receiver.spans().length > 0);
  assert.ok(receiver.spans().every((s) => s.traceId === traceId));
});

Deno.test(
  "spans are exported in batches once exportDelay has passed, before any stop",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    await using running = await openObservedApp(tracing(receiver, { exportDelay: "20ms" }));

    await get(running, "/v1/widgets/items/w1");

    await waitFor(() => receiver.spans().some((s) => s.kind === SERVER), "the server span");
  },
);

Deno.test(
  "an unreachable collector fails neither requests nor the stop",
  SANITIZED,
  async () => {
    const receiver = startOtlpReceiver();
    await receiver.close(); // its port now refuses connections
    const { log, lines } = capturingLog();
    await using running = await openObservedApp(
      tracing(receiver, { exportTimeout: "500ms" }),
      log,
    );

    const { status } = await get(running, "/v1/widgets/items/w1");
    const errors = await running.lifecycle.stop();

    assert.equal(status, 200);
    assert.deepEqual(errors, []);
    const problem = lines.find((line) => line.msg === "tracing problem");
    assert.equal(problem?.level, "warn");
    assert.equal(problem?.plugin, "observability");
  },
);

Deno.test("with tracing off, requests carry no trace ids", SANITIZED, async () => {
  const { log, lines } = capturingLog();
  await using running = await openObservedApp({}, log);

  await get(running, "/v1/widgets/items/w1");

  const handlerLine = lines.find((line) => line.msg === "widget served");
  assert.ok(handlerLine);
  assert.equal(handlerLine.traceId, undefined);
});
