/**
 * Specification of API-key auth (`core/auth.ts` and its use in `core/app.ts`): 401 without a
 * valid key, 403 without the scope, public probes and docs, and the refusal to serve an open
 * API beyond loopback.
 */
import assert from "node:assert/strict";
import { authRefusal, hasScope, isLoopback } from "../../core/auth.ts";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import {
  configYaml,
  loadConfig,
  openApp,
  problemOf,
  type RunningApp,
  SANITIZED,
} from "../_helpers.ts";
import { createHarness } from "./_harness.ts";

const READER_KEY = "reader-key-0123456789";
const WRITER_KEY = "writer-key-0123456789";
const ADMIN_KEY = "admin-key-0123456789a";
const OPS_KEY = "ops-key-0123456789abc";

const AUTH = {
  auth: {
    keys: [
      { name: "reader", key: READER_KEY, scopes: ["echo:read"] },
      { name: "writer", key: WRITER_KEY, scopes: ["echo:*"] },
      { name: "admin", key: ADMIN_KEY, scopes: ["*"] },
      { name: "ops", key: OPS_KEY, scopes: ["admin"] },
    ],
  },
};

/** The echo plugin behind the keys above. */
function openAuthApp(): Promise<RunningApp> {
  const h = createHarness({}, [echoPlugin]);
  return openApp(configYaml({ echo: {} }, AUTH), h.registry);
}

function bearer(key: string, init: RequestInit = {}): RequestInit {
  return {
    ...init,
    headers: { ...init.headers as Record<string, string>, authorization: `Bearer ${key}` },
  };
}

const MESSAGE: RequestInit = {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ message: "hi" }),
};

/** The auth section of a config parsed the way `edgebox serve` reads it. */
function parsed(root: Record<string, unknown>) {
  return loadConfig(configYaml({}, root), new Map());
}

// --- the middleware ----------------------------------------------------------------------

Deno.test(
  "a request without Authorization answers 401 with WWW-Authenticate",
  SANITIZED,
  async () => {
    await using running = await openAuthApp();

    const response = await running.request("/v1/echo", { headers: { "x-request-id": "req-401" } });

    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
    const problem = await problemOf(response);
    assert.equal(problem.code, "core.unauthorized");
    assert.equal(problem.requestId, "req-401");
  },
);

Deno.test("a request with an unknown key answers 401 core.unauthorized", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/v1/echo", bearer("not-a-configured-key-000"));

  assert.equal(response.status, 401);
  assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
  assert.equal((await problemOf(response)).code, "core.unauthorized");
});

Deno.test("an Authorization header that is not a Bearer token answers 401", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/v1/echo", {
    headers: { authorization: `Basic ${btoa(`admin:${ADMIN_KEY}`)}` },
  });

  assert.equal(response.status, 401);
  assert.equal((await problemOf(response)).code, "core.unauthorized");
});

Deno.test("a read key on a write route answers 403 core.forbidden", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/v1/echo/messages", bearer(READER_KEY, MESSAGE));

  assert.equal(response.status, 403);
  assert.equal((await problemOf(response)).code, "core.forbidden");
});

Deno.test("a read key on a read route answers 200", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/v1/echo", bearer(READER_KEY));

  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("an <instance>:* key may read and write that instance", SANITIZED, async () => {
  await using running = await openAuthApp();

  assert.equal((await running.request("/v1/echo", bearer(WRITER_KEY))).status, 200);
  assert.equal(
    (await running.request("/v1/echo/messages", bearer(WRITER_KEY, MESSAGE))).status,
    200,
  );
});

Deno.test("a * key works on plugin routes and admin routes", SANITIZED, async () => {
  await using running = await openAuthApp();

  assert.equal((await running.request("/v1/echo", bearer(ADMIN_KEY))).status, 200);
  assert.equal(
    (await running.request("/v1/echo/messages", bearer(ADMIN_KEY, MESSAGE))).status,
    200,
  );
  assert.equal((await running.request("/plugins", bearer(ADMIN_KEY))).status, 200);
});

Deno.test("/health and /ready need no key", SANITIZED, async () => {
  await using running = await openAuthApp();

  assert.equal((await running.request("/health")).status, 200);
  assert.equal((await running.request("/ready")).status, 200);
});

Deno.test("/openapi.json and /docs need no key", SANITIZED, async () => {
  await using running = await openAuthApp();

  assert.equal((await running.request("/openapi.json")).status, 200);
  assert.equal((await running.request("/docs")).status, 200);
});

Deno.test("/plugins without a key answers 401", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/plugins");

  assert.equal(response.status, 401);
  assert.equal((await problemOf(response)).code, "core.unauthorized");
});

Deno.test("/plugins needs the admin scope: a plugin-scoped key gets 403", SANITIZED, async () => {
  await using running = await openAuthApp();

  for (const key of [READER_KEY, WRITER_KEY]) {
    const response = await running.request("/plugins", bearer(key));
    assert.equal(response.status, 403);
    assert.equal((await problemOf(response)).code, "core.forbidden");
  }
});

Deno.test("/plugins answers a key with the admin scope", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/plugins", bearer(OPS_KEY));

  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("an admin-only key cannot use plugin routes", SANITIZED, async () => {
  await using running = await openAuthApp();

  const response = await running.request("/v1/echo", bearer(OPS_KEY));

  assert.equal(response.status, 403);
  assert.equal((await problemOf(response)).code, "core.forbidden");
});

Deno.test("/plugins never shows the configured API keys", SANITIZED, async () => {
  await using running = await openAuthApp();

  const text = await (await running.request("/plugins", bearer(ADMIN_KEY))).text();

  for (const key of [READER_KEY, WRITER_KEY, ADMIN_KEY, OPS_KEY]) {
    assert.doesNotMatch(text, new RegExp(key));
  }
});

Deno.test(
  "with auth off (loopback, no keys) every route answers without a key",
  SANITIZED,
  async () => {
    const h = createHarness({}, [echoPlugin]);
    await using running = await openApp(configYaml({ echo: {} }), h.registry);

    assert.equal((await running.request("/plugins")).status, 200);
    assert.equal((await running.request("/v1/echo/messages", MESSAGE)).status, 200);
  },
);

// --- authRefusal -------------------------------------------------------------------------

Deno.test("serving beyond loopback with no keys is refused", SANITIZED, () => {
  const config = parsed({ server: { host: "0.0.0.0" } });

  assert.equal(typeof authRefusal(config.auth, config.server.host), "string");
});

Deno.test("serving beyond loopback with no keys is allowed under auth mode none", SANITIZED, () => {
  const config = parsed({ server: { host: "0.0.0.0" }, auth: { mode: "none" } });

  assert.equal(authRefusal(config.auth, config.server.host), undefined);
});

Deno.test("serving beyond loopback with keys is allowed", SANITIZED, () => {
  const config = parsed({ server: { host: "0.0.0.0" }, ...AUTH });

  assert.equal(authRefusal(config.auth, config.server.host), undefined);
});

Deno.test("serving on loopback with no keys is allowed", SANITIZED, () => {
  for (const host of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]) {
    const config = parsed({ server: { host } });
    assert.equal(authRefusal(config.auth, config.server.host), undefined, host);
  }
});

Deno.test("the default server host is loopback and needs no keys", SANITIZED, () => {
  const config = parsed({});

  assert.equal(isLoopback(config.server.host), true);
  assert.equal(authRefusal(config.auth, config.server.host), undefined);
});

Deno.test("auth mode apiKey without keys is refused, even on loopback", SANITIZED, () => {
  const config = parsed({ auth: { mode: "apiKey" } });

  assert.equal(typeof authRefusal(config.auth, config.server.host), "string");
});

Deno.test("hosts that only look like loopback are not loopback", SANITIZED, () => {
  for (const host of ["0.0.0.0", "::", "127.0.0.1.nip.io", "localhost.example.com", "10.0.0.1"]) {
    assert.equal(isLoopback(host), false, host);
  }
});

// --- hasScope ----------------------------------------------------------------------------

Deno.test("hasScope grants exactly what the scope table says", SANITIZED, () => {
  const table: [scopes: string[], required: string, granted: boolean][] = [
    [["*"], "cache:read", true],
    [["*"], "admin", true],
    [["cache:read"], "cache:read", true],
    [["cache:read"], "cache:write", false],
    [["cache:write"], "cache:read", false],
    [["cache:*"], "cache:read", true],
    [["cache:*"], "cache:write", true],
    [["cache:*"], "sessions:read", false],
    [["cache:*"], "admin", false],
    [["c:*"], "cache:read", false],
    [["admin"], "admin", true],
    [["admin"], "cache:read", false],
    [["storage:read", "cache:write"], "cache:write", true],
    [[], "cache:read", false],
  ];
  for (const [scopes, required, granted] of table) {
    assert.equal(hasScope(scopes, required), granted, `${JSON.stringify(scopes)} -> ${required}`);
  }
});
