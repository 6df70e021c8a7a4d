/**
 * Specification of the HTTP core (`core/app.ts`, `core/health.ts`, `core/request_id.ts`),
 * driven through `app.request` with no network: core routes, problem+json errors, request ids,
 * limits, and what a plugin's routes answer while it is not ready.
 */
import assert from "node:assert/strict";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import {
  capturingLog,
  configYaml,
  openApp,
  problemOf,
  SANITIZED,
  stateOf,
  waitFor,
} from "../_helpers.ts";
import { createHarness, type Harness } from "./_harness.ts";

/** A recording plugin type `test` plus the echo plugin. */
function harness(): Harness {
  return createHarness({ test: [] }, [echoPlugin]);
}

/** Echo on fast settings, plus the given recording instances (all of type `test`). */
function yaml(
  extra: Record<string, Record<string, unknown>> = {},
  root: Record<string, unknown> = {},
): string {
  const plugins: Record<string, Record<string, unknown>> = { echo: {} };
  for (const [name, block] of Object.entries(extra)) plugins[name] = { type: "test", ...block };
  return configYaml(plugins, root);
}

function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// --- core routes -------------------------------------------------------------------------

Deno.test("GET /health answers 200 {status: ok}", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health");

  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});

Deno.test("GET /ready answers 200 when every required plugin is ready", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml({ db: {} }), h.registry);

  const response = await running.request("/ready");

  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ready");
  assert.equal(body.plugins.db.state, "ready");
  assert.equal(body.plugins.echo.state, "ready");
});

Deno.test(
  "GET /ready answers 503 naming a degraded required plugin and its state",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({ db: {} }), h.registry);
    h.behaviour("db").readyStatus = "down";
    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

    const response = await running.request("/ready");

    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    const body = await response.json();
    assert.equal(body.status, "not_ready");
    assert.equal(body.plugins.db.state, "degraded");
    assert.equal(body.plugins.db.required, true);
    assert.equal(typeof body.plugins.db.detail, "string");
    assert.equal(body.plugins.echo.state, "ready");
  },
);

Deno.test(
  "GET /ready answers 503 while shutting down, even with every plugin ready",
  SANITIZED,
  async () => {
    const h = harness();
    let shuttingDown = false;
    await using running = await openApp(yaml(), h.registry, { isShuttingDown: () => shuttingDown });
    assert.equal((await running.request("/ready")).status, 200);

    shuttingDown = true;
    const response = await running.request("/ready");

    assert.equal(response.status, 503);
    assert.equal((await response.json()).status, "not_ready");
  },
);

Deno.test(
  "an optional degraded plugin does not fail /ready but is reported",
  SANITIZED,
  async () => {
    const h = harness();
    h.behaviour("extras").startFailures = Infinity;
    await using running = await openApp(yaml({ extras: { required: false } }), h.registry);

    const response = await running.request("/ready");

    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.status, "ready");
    assert.equal(body.plugins.extras.state, "degraded");
    assert.equal(body.plugins.extras.required, false);
  },
);

Deno.test(
  "GET /plugins lists every instance with its type, backend, state and mount",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({ db: {} }), h.registry);

    const response = await running.request("/plugins");

    assert.equal(response.status, 200);
    const { plugins } = await response.json();
    const db = plugins.find((p: { name: string }) => p.name === "db");
    const echo = plugins.find((p: { name: string }) => p.name === "echo");
    assert.equal(db.type, "test");
    assert.equal(db.backend, "memory");
    assert.equal(db.state, "ready");
    assert.equal(db.required, true);
    assert.equal(db.mount, "/v1/db");
    assert.equal(echo.mount, "/v1/echo");
  },
);

Deno.test("GET /plugins redacts secret-looking config fields", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml({ db: { password: "hunter2-hunter2" } }), h.registry);

  const response = await running.request("/plugins");

  const text = await response.text();
  assert.doesNotMatch(text, /hunter2/);
  const db = JSON.parse(text).plugins.find((p: { name: string }) => p.name === "db");
  assert.equal(db.config.password, "[redacted]");
  assert.equal(db.config.backend, "memory");
});

Deno.test(
  "GET /openapi.json is an OpenAPI 3.1 document with core and plugin routes",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml(), h.registry);

    const response = await running.request("/openapi.json");

    assert.equal(response.status, 200);
    const spec = await response.json();
    assert.match(spec.openapi, /^3\.1\./);
    assert.ok(spec.paths["/health"]?.get, "documents GET /health");
    assert.ok(spec.paths["/ready"]?.get, "documents GET /ready");
    assert.ok(spec.paths["/v1/echo/messages"]?.post, "documents POST /v1/echo/messages");
  },
);

Deno.test("GET /docs is an HTML page listing the routes", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/docs");

  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(await response.text(), /\/v1\/echo\/messages/);
});

// --- errors ------------------------------------------------------------------------------

Deno.test(
  "an unknown path answers 404 problem+json core.not_found with the request id",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml(), h.registry);

    const response = await running.request("/nope", { headers: { "x-request-id": "req-404" } });

    assert.equal(response.status, 404);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.not_found");
    assert.equal(problem.status, 404);
    assert.equal(problem.requestId, "req-404");
    assert.equal(response.headers.get("x-request-id"), "req-404");
  },
);

Deno.test("an unknown path below a plugin answers 404 core.not_found", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/nope");

  assert.equal(response.status, 404);
  assert.equal((await problemOf(response)).code, "core.not_found");
});

Deno.test("a known path under the wrong method answers 405 with Allow", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/messages", {
    method: "DELETE",
    headers: { "x-request-id": "req-405" },
  });

  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "POST");
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.method_not_allowed");
  assert.equal(problem.requestId, "req-405");
});

Deno.test("a core GET route answers 405 to POST and allows GET and HEAD", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health", { method: "POST" });

  assert.equal(response.status, 405);
  const allow = (response.headers.get("allow") ?? "").split(/,\s*/).sort();
  assert.deepEqual(allow, ["GET", "HEAD"]);
  assert.equal((await problemOf(response)).code, "core.method_not_allowed");
});

Deno.test("HEAD of a GET route answers 200", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health", { method: "HEAD" });

  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("a body over server.bodyLimit answers 413 core.body_too_large", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml({}, { server: { bodyLimit: "1KiB" } }), h.registry);

  const response = await running.request(
    "/v1/echo/messages",
    postJson({ message: "x".repeat(2048) }),
  );

  assert.equal(response.status, 413);
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.body_too_large");
  assert.equal(problem.field, "body");
});

Deno.test(
  "a body over the limit that declares its Content-Length answers 413",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({}, { server: { bodyLimit: "1KiB" } }), h.registry);
    const body = JSON.stringify({ message: "x".repeat(2048) });

    const response = await running.request(
      "/v1/echo/messages",
      postJson(body, { "content-length": String(new TextEncoder().encode(body).length) }),
    );

    assert.equal(response.status, 413);
    assert.equal((await problemOf(response)).code, "core.body_too_large");
  },
);

Deno.test("a body under server.bodyLimit is accepted", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml({}, { server: { bodyLimit: "1KiB" } }), h.registry);

  const response = await running.request("/v1/echo/messages", postJson({ message: "hi" }));

  assert.equal(response.status, 200);
  assert.equal((await response.json()).echo, "hi");
});

Deno.test("a malformed JSON body answers 400 problem+json", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/messages", postJson("{not json"));

  assert.equal(response.status, 400);
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.json_invalid");
  assert.equal(problem.field, "body");
});

Deno.test(
  "a JSON route sent another media type answers 415 with its own code",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml(), h.registry);

    const response = await running.request("/v1/echo/messages", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"message":"hi"}',
    });

    assert.equal(response.status, 415);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.unsupported_media_type");
    assert.equal(problem.field, "header.content-type");
  },
);

Deno.test("a body field of the wrong type answers 400 naming the field", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/messages", postJson({ message: 42 }));

  assert.equal(response.status, 400);
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.validation_failed");
  assert.equal(problem.field, "body.message");
});

Deno.test("a missing required body field answers 400 naming the field", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/messages", postJson({}));

  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).field, "body.message");
});

Deno.test(
  "a query parameter out of range answers 400 naming the parameter",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml(), h.registry);

    const response = await running.request("/v1/echo/delay?ms=-5");

    assert.equal(response.status, 400);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.validation_failed");
    assert.equal(problem.field, "query.ms");
  },
);

Deno.test(
  "a route that throws a plain Error answers 500 core.internal without details",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({ db: {} }), h.registry);

    const response = await running.request("/v1/db/boom", {
      headers: { "x-request-id": "req-500" },
    });

    assert.equal(response.status, 500);
    const text = await response.clone().text();
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.internal");
    assert.equal(problem.requestId, "req-500");
    assert.equal("stack" in problem, false);
    assert.doesNotMatch(text, /exploded/);
    assert.doesNotMatch(text, /\.ts:\d+/);
  },
);

Deno.test(
  "a route that throws is logged at error level with the request id",
  SANITIZED,
  async () => {
    const h = harness();
    const { log, lines } = capturingLog();
    await using running = await openApp(yaml({ db: {} }), h.registry, { log });

    await running.request("/v1/db/boom", { headers: { "x-request-id": "req-logged" } });

    assert.ok(
      lines.some((l) => l.level === "error" && l.requestId === "req-logged"),
      "an error line carries the request id",
    );
  },
);

Deno.test(
  "a 503 from a degraded plugin is no error line: the lifecycle reported the cause",
  SANITIZED,
  async () => {
    const h = harness();
    const { log, lines } = capturingLog();
    await using running = await openApp(yaml({ db: {} }), h.registry, { log });
    h.behaviour("db").readyStatus = "down";
    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

    const response = await running.request("/v1/db", { headers: { "x-request-id": "req-quiet" } });

    assert.equal(response.status, 503);
    await response.body?.cancel();
    const mine = lines.filter((l) => l.requestId === "req-quiet");
    assert.deepEqual(mine.map((l) => [l.level, l.msg]), [["info", "request"]]);
  },
);

// --- request ids -------------------------------------------------------------------------

Deno.test("a well-formed X-Request-Id is kept and echoed in the response", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health", {
    headers: { "x-request-id": "abc-123.x:y_z" },
  });

  assert.equal(response.headers.get("x-request-id"), "abc-123.x:y_z");
});

Deno.test("a request without X-Request-Id gets a generated one", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health");

  assert.match(response.headers.get("x-request-id") ?? "", UUID);
});

Deno.test("an X-Request-Id containing spaces is replaced", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/nope", { headers: { "x-request-id": "two words" } });

  const id = response.headers.get("x-request-id") ?? "";
  assert.match(id, UUID);
  assert.equal((await problemOf(response)).requestId, id);
});

Deno.test("an X-Request-Id of 200 characters is replaced", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/health", {
    headers: { "x-request-id": "a".repeat(200) },
  });

  assert.match(response.headers.get("x-request-id") ?? "", UUID);
});

Deno.test("a plugin route sees the same request id as the response header", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml(), h.registry);

  const response = await running.request("/v1/echo/messages", postJson({ message: "hi" }));

  const body = await response.json();
  assert.equal(body.requestId, response.headers.get("x-request-id"));
});

Deno.test(
  "every request is logged once with its route template, not its raw path",
  SANITIZED,
  async () => {
    const h = harness();
    const { log, lines } = capturingLog();
    await using running = await openApp(yaml(), h.registry, { log });

    await running.request("/v1/echo/delay?ms=0", { headers: { "x-request-id": "req-access" } });

    const access = lines.filter((l) => l.msg === "request" && l.requestId === "req-access");
    assert.equal(access.length, 1);
    assert.equal(access[0]!.route, "/v1/echo/delay");
    assert.equal(access[0]!.status, 200);
  },
);

Deno.test("probe requests get no access log line by default", SANITIZED, async () => {
  const h = harness();
  const { log, lines } = capturingLog();
  await using running = await openApp(yaml(), h.registry, { log });

  for (const path of ["/health", "/ready", "/v1/echo"]) {
    const response = await running.request(path, { headers: { "x-request-id": "req-probe" } });
    await response.body?.cancel();
  }

  const routes = lines.filter((l) => l.msg === "request" && l.requestId === "req-probe")
    .map((l) => l.route);
  assert.deepEqual(routes, ["/v1/echo"]);
});

Deno.test("log.skipPaths replaces the paths the access log leaves out", SANITIZED, async () => {
  const h = harness();
  const { log, lines } = capturingLog();
  await using running = await openApp(
    yaml({}, { log: { skipPaths: ["/v1/echo"] } }),
    h.registry,
    { log },
  );

  for (const path of ["/health", "/v1/echo"]) {
    const response = await running.request(path, { headers: { "x-request-id": "req-skip" } });
    await response.body?.cancel();
  }

  const routes = lines.filter((l) => l.msg === "request" && l.requestId === "req-skip")
    .map((l) => l.route);
  assert.deepEqual(routes, ["/health"]);
});

// --- degraded plugins --------------------------------------------------------------------

Deno.test(
  "a degraded plugin's routes answer 503 core.plugin_unavailable with Retry-After",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({ db: {} }), h.registry);
    h.behaviour("db").readyStatus = "down";
    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

    const response = await running.request("/v1/db", { headers: { "x-request-id": "req-503" } });

    assert.equal(response.status, 503);
    const retryAfter = Number(response.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is ${retryAfter}`);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.plugin_unavailable");
    assert.equal(problem.requestId, "req-503");
  },
);

Deno.test(
  "core routes and other plugins still answer while one plugin is degraded",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml({ db: {} }), h.registry);
    h.behaviour("db").readyStatus = "down";
    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

    assert.equal((await running.request("/health")).status, 200);
    assert.equal((await running.request("/plugins")).status, 200);
    assert.equal((await running.request("/v1/echo")).status, 200);
  },
);

Deno.test("a plugin's routes answer again once it recovers", SANITIZED, async () => {
  const h = harness();
  await using running = await openApp(yaml({ db: {} }), h.registry);
  h.behaviour("db").readyStatus = "down";
  await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

  h.behaviour("db").readyStatus = "ready";
  await waitFor(() => stateOf(running, "db") === "ready", "db to recover");

  const response = await running.request("/v1/db");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { name: "db" });
});

Deno.test(
  "a plugin's routes answer 503 core.shutting_down once shutdown began",
  SANITIZED,
  async () => {
    const h = harness();
    let shuttingDown = false;
    await using running = await openApp(yaml({ db: {} }), h.registry, {
      isShuttingDown: () => shuttingDown,
    });
    h.behaviour("db").readyStatus = "down";
    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

    shuttingDown = true;
    const response = await running.request("/v1/db");

    assert.equal(response.status, 503);
    assert.equal((await problemOf(response)).code, "core.shutting_down");
  },
);

Deno.test(
  "POST /v1/echo/outage makes echo degrade, answer 503, then recover by itself",
  SANITIZED,
  async () => {
    const h = harness();
    await using running = await openApp(yaml(), h.registry);

    const outage = await running.request("/v1/echo/outage", postJson({ duration: "400ms" }));
    assert.equal(outage.status, 202);
    await outage.body?.cancel();

    await waitFor(() => stateOf(running, "echo") === "degraded", "echo to turn degraded");
    const during = await running.request("/v1/echo");
    assert.equal(during.status, 503);
    assert.equal((await problemOf(during)).code, "core.plugin_unavailable");

    await waitFor(() => stateOf(running, "echo") === "ready", "echo to recover");
    assert.equal((await running.request("/v1/echo")).status, 200);
    assert.equal((await running.request("/ready")).status, 200);
  },
);
