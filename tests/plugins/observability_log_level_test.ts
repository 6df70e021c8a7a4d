/**
 * Specification of the runtime log level: `GET /v1/observability/log-level` reads it, `PUT`
 * changes it for every logger of the process, and changing it needs scope `admin` on top of the
 * path's own scope.
 */
import assert from "node:assert/strict";
import { capturingLog, problemOf, SANITIZED } from "../_helpers.ts";
import { createLogger } from "../../core/log.ts";
import { openObservedApp } from "./_observability_helpers.ts";

const ADMIN = "admin-key-0123456789";
const OPERATOR = "operator-key-0123456789";
const ADMIN_ONLY = "admin-only-key-0123456789";
const AUTH = {
  auth: {
    keys: [
      { name: "root", key: ADMIN, scopes: ["*"] },
      { name: "operator", key: OPERATOR, scopes: ["observability:*"] },
      { name: "admin-only", key: ADMIN_ONLY, scopes: ["admin"] },
    ],
  },
};

function put(level: unknown, key?: string): RequestInit {
  return {
    method: "PUT",
    headers: {
      "content-type": "application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ level }),
  };
}

/** A JSON logger at `info` that keeps its lines. */
function infoLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "info",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  return { log, lines };
}

Deno.test("GET /log-level answers the current level", SANITIZED, async () => {
  await using running = await openObservedApp({}, infoLog().log);

  const response = await running.request("/v1/observability/log-level");

  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { level: "info" });
});

Deno.test(
  "PUT /log-level changes the level of every logger in the process",
  SANITIZED,
  async () => {
    const { log, lines } = infoLog();
    await using running = await openObservedApp({}, log);
    log.child({ plugin: "elsewhere" }).debug("before");

    const response = await running.request("/v1/observability/log-level", put("debug"));
    log.child({ plugin: "elsewhere" }).debug("after");

    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { level: "debug", previous: "info" });
    assert.equal(log.level, "debug");
    assert.deepEqual(lines.filter((l) => l.plugin === "elsewhere").map((l) => l.msg), ["after"]);
    const read = await running.request("/v1/observability/log-level");
    assert.equal((await read.json()).level, "debug");
  },
);

Deno.test("a level change is logged with who made it", SANITIZED, async () => {
  const { log, lines } = capturingLog();
  await using running = await openObservedApp({ root: AUTH }, log);

  const response = await running.request("/v1/observability/log-level", put("error", ADMIN));
  await response.body?.cancel();

  const line = lines.find((l) => l.msg === "log level changed");
  assert.equal(line?.by, "root");
  assert.equal(line?.from, "debug");
  assert.equal(line?.to, "error");
});

Deno.test(
  "PUT /log-level answers 403 to a key without scope admin",
  SANITIZED,
  async () => {
    const { log } = infoLog();
    await using running = await openObservedApp({ root: AUTH }, log);

    const response = await running.request("/v1/observability/log-level", put("debug", OPERATOR));

    assert.equal(response.status, 403);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.forbidden");
    assert.equal(problem.requiredScope, "admin");
    assert.equal(log.level, "info");
  },
);

Deno.test("the scope check comes before body validation", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH }, infoLog().log);

  const response = await running.request("/v1/observability/log-level", put("loud", OPERATOR));

  assert.equal(response.status, 403);
  assert.equal((await problemOf(response)).code, "core.forbidden");
});

Deno.test("GET /log-level needs only the path's read scope", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH }, infoLog().log);

  const response = await running.request("/v1/observability/log-level", {
    headers: { authorization: `Bearer ${OPERATOR}` },
  });

  assert.equal(response.status, 200);
  assert.equal((await response.json()).level, "info");
});

Deno.test("PUT /log-level answers 401 without a key when auth is on", SANITIZED, async () => {
  await using running = await openObservedApp({ root: AUTH }, infoLog().log);

  const response = await running.request("/v1/observability/log-level", put("debug"));

  assert.equal(response.status, 401);
  assert.equal((await problemOf(response)).code, "core.unauthorized");
});

Deno.test("an unknown level is a 400 naming body.level", SANITIZED, async () => {
  const { log } = infoLog();
  await using running = await openObservedApp({}, log);

  const response = await running.request("/v1/observability/log-level", put("loud"));

  assert.equal(response.status, 400);
  const problem = await problemOf(response);
  assert.equal(problem.code, "core.validation_failed");
  assert.equal(problem.field, "body.level");
  assert.equal(log.level, "info");
});

Deno.test("an unknown body field is a 400 naming it", SANITIZED, async () => {
  await using running = await openObservedApp({}, infoLog().log);

  const response = await running.request("/v1/observability/log-level", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ level: "debug", forever: true }),
  });

  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).code, "core.validation_failed");
});

Deno.test("a key with only the admin scope may change the log level", SANITIZED, async () => {
  const { log } = infoLog();
  await using running = await openObservedApp({ root: AUTH }, log);

  const response = await running.request("/v1/observability/log-level", put("warn", ADMIN_ONLY));
  await response.body?.cancel();

  assert.equal(response.status, 200);
  assert.equal(log.level, "warn");
});
