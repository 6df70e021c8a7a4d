/**
 * `POST /admin/reload` is an admin action (OWASP API5 2023, broken function level authorization):
 * without a key it is 401, with any key lacking the `admin` scope it is 403, and either way the
 * config file is not even read. It takes no body in any framing (the config comes from the file,
 * never from the network), and a rate limit cannot lock an admin out of fixing the config.
 * Requests cross a real socket byte for byte (`_raw_http.ts`).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createApp, type EdgeboxApp } from "../../core/app.ts";
import { Lifecycle } from "../../core/lifecycle.ts";
import { Reloader } from "../../core/reload.ts";
import { builtinRegistry } from "../../plugins/mod.ts";
import { configYaml, loadConfig, SANITIZED, silentLog } from "../_helpers.ts";
import { runs } from "./_fc.ts";
import { rawRequest } from "./_raw_http.ts";

const ADMIN = "admin-key-0123456789abcdef";
const KEYS: Record<string, { key: string; scopes: string[] }> = {
  admin: { key: ADMIN, scopes: ["admin"] },
  all: { key: "all-key-0123456789abcdef", scopes: ["*"] },
  echo: { key: "echo-key-0123456789abcdef", scopes: ["echo:*"] },
  cache: { key: "cache-key-0123456789abcdef", scopes: ["cache:read", "cache:write"] },
};

/** An edgebox behind a real socket whose config reads are counted. */
async function serveReloadable(
  server: Record<string, unknown> = {},
): Promise<{ port: number; reads: () => number } & AsyncDisposable> {
  const yaml = configYaml({ echo: {}, cache: {} }, {
    server,
    auth: {
      keys: Object.entries(KEYS).map(([name, { key, scopes }]) => ({ name, key, scopes })),
    },
  });
  const log = silentLog();
  const config = loadConfig(yaml, builtinRegistry);
  const lifecycle = new Lifecycle(config, { registry: builtinRegistry, log });
  let reads = 0;
  const reloader: Reloader<EdgeboxApp> = new Reloader({
    config,
    lifecycle,
    registry: builtinRegistry,
    log,
    source: {
      name: "test.yaml",
      embedded: false,
      read: () => {
        reads++;
        return Promise.resolve(yaml);
      },
    },
    buildApp: (served, generation) =>
      createApp({
        config: served,
        lifecycle,
        log,
        generation,
        reload: () => reloader.reload("http"),
      }),
  });
  await lifecycle.start();
  reloader.markStarted();
  const listening = Promise.withResolvers<number>();
  const httpServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => listening.resolve(port) },
    (request, info) => reloader.app.fetch(request, info),
  );
  return {
    port: await listening.promise,
    reads: () => reads,
    async [Symbol.asyncDispose]() {
      await httpServer.shutdown();
      await reloader.close();
      await lifecycle.stop();
    },
  };
}

const authorization = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constantFrom("echo", "cache").map((name) => `Bearer ${KEYS[name]!.key}`),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s))
    .map((s) => `Bearer ${s}`),
  fc.constantFrom(`Basic ${btoa(`admin:${ADMIN}`)}`, `bearer${ADMIN}`, ADMIN),
);

Deno.test(
  "without the admin scope POST /admin/reload is 401 or 403 and the config is never read",
  SANITIZED,
  async () => {
    await using edgebox = await serveReloadable();
    await fc.assert(
      fc.asyncProperty(
        authorization,
        fc.constantFrom("/admin/reload", "/admin/reload/", "/ADMIN/reload", "/admin//reload"),
        async (auth, target) => {
          const response = await rawRequest(edgebox.port, {
            method: "POST",
            target,
            headers: auth === undefined ? {} : { authorization: auth },
          });
          const scoped = auth === `Bearer ${KEYS.echo!.key}` ||
            auth === `Bearer ${KEYS.cache!.key}`;
          if (target === "/admin/reload") {
            assert.equal(response.status, scoped ? 403 : 401, `${auth} -> ${response.status}`);
          } else {
            assert.ok([401, 403, 404].includes(response.status), `${target} ${response.status}`);
          }
          assert.equal(edgebox.reads(), 0, "the config file was not read");
        },
      ),
      runs(60),
    );
    for (const name of ["admin", "all"]) {
      const response = await rawRequest(edgebox.port, {
        method: "POST",
        target: "/admin/reload",
        headers: { authorization: `Bearer ${KEYS[name]!.key}` },
      });
      assert.equal(response.status, 200, `${name}: ${response.body}`);
    }
    assert.equal(edgebox.reads(), 2);
  },
);

Deno.test(
  "POST /admin/reload refuses a body in any framing, even from an admin, without reading the config",
  SANITIZED,
  async () => {
    await using edgebox = await serveReloadable();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 256 }),
        fc.constantFrom("length", "chunked") as fc.Arbitrary<"length" | "chunked">,
        fc.constantFrom("application/yaml", "application/json", "text/plain"),
        async (body, framing, contentType) => {
          const response = await rawRequest(edgebox.port, {
            method: "POST",
            target: "/admin/reload",
            headers: { authorization: `Bearer ${ADMIN}`, "content-type": contentType },
            body,
            framing,
          });
          assert.equal(response.status, 413, response.body);
          assert.equal(JSON.parse(response.body).code, "core.body_too_large");
          assert.equal(edgebox.reads(), 0);
        },
      ),
      runs(40),
    );
  },
);

Deno.test(
  "a rate limit on every path cannot keep an admin from reloading",
  SANITIZED,
  async () => {
    await using edgebox = await serveReloadable({
      rateLimit: { by: "apiKey", rules: [{ prefix: "/", limit: 1, window: "1m" }] },
    });
    const as = { authorization: `Bearer ${ADMIN}` };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const plugins = await rawRequest(edgebox.port, {
        method: "GET",
        target: "/plugins",
        headers: as,
      });
      statuses.push(plugins.status);
    }
    assert.deepEqual(statuses, [200, 429, 429], "the budget is spent");
    for (let i = 0; i < 3; i++) {
      const reload = await rawRequest(edgebox.port, {
        method: "POST",
        target: "/admin/reload",
        headers: as,
      });
      assert.equal(reload.status, 200, reload.body);
    }
  },
);
