/** API rate limiting: budgets per client and route prefix, counted by a plugin's `rateLimit`. */
import assert from "node:assert/strict";
import { z } from "zod";
import { createRouter } from "../../core/routes.ts";
import { definePlugin, type PluginRegistry, provide } from "../../core/plugin.ts";
import {
  RATE_LIMIT_STORE,
  type RateLimitResult,
  type RateLimitStore,
} from "../../core/rate_limit.ts";
import { configYaml, openApp, problemOf, SANITIZED } from "../_helpers.ts";

/** A counter plugin with a fixed-window `rateLimit`, like the cache plugin's. */
function counterPlugin(options: { failing?: boolean } = {}) {
  return definePlugin({
    type: "counter",
    description: "Counts rate limits in memory (test)",
    config: z.discriminatedUnion("backend", [z.strictObject({ backend: z.literal("memory") })]),
    backends: ["memory"],
    provides: [provide(RATE_LIMIT_STORE, (exports: RateLimitStore) => exports)],
    create() {
      const windows = new Map<string, { count: number; resetAt: number }>();
      const routes = createRouter();
      routes.get("/", (c) => c.json({ ok: true }));
      return {
        routes,
        exports: {
          rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
            if (options.failing) return Promise.reject(new Error("store down"));
            const now = Date.now();
            let window = windows.get(key);
            if (!window || window.resetAt <= now) {
              window = { count: 0, resetAt: now + windowMs };
              windows.set(key, window);
            }
            window.count++;
            return Promise.resolve({
              allowed: window.count <= limit,
              limit,
              remaining: limit - window.count,
              resetMs: window.resetAt - now,
            });
          },
        },
      };
    },
  });
}

const registry = (failing = false): PluginRegistry =>
  new Map([["counter", counterPlugin({ failing })]]);

const limited = (limit: number, extra: Record<string, unknown> = {}) =>
  configYaml({ counter: { backend: "memory" } }, {
    server: { rateLimit: { rules: [{ prefix: "/v1/", limit, window: "1m" }] } },
    ...extra,
  });

Deno.test("requests within the budget pass with RateLimit headers", SANITIZED, async () => {
  await using running = await openApp(limited(2), registry());
  const response = await running.request("/v1/counter");
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("ratelimit-limit"), "2");
  assert.equal(response.headers.get("ratelimit-remaining"), "1");
  assert.ok(Number(response.headers.get("ratelimit-reset")) >= 1);
});

Deno.test(
  "the request past the budget is 429 problem+json with Retry-After",
  SANITIZED,
  async () => {
    await using running = await openApp(limited(2), registry());
    for (let i = 0; i < 2; i++) await (await running.request("/v1/counter")).body?.cancel();
    const response = await running.request("/v1/counter");
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get("retry-after")) >= 1);
    assert.equal(response.headers.get("ratelimit-remaining"), "0");
    assert.equal((await problemOf(response)).code, "core.rate_limited");
  },
);

Deno.test("each API key has its own budget", SANITIZED, async () => {
  const keys = {
    auth: {
      keys: [
        { name: "a", key: "a".repeat(20), scopes: ["*"] },
        { name: "b", key: "b".repeat(20), scopes: ["*"] },
      ],
    },
  };
  await using running = await openApp(limited(1, keys), registry());
  const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
  await (await running.request("/v1/counter", as("a".repeat(20)))).body?.cancel();
  const second = await running.request("/v1/counter", as("a".repeat(20)));
  await second.body?.cancel();
  assert.equal(second.status, 429);
  const other = await running.request("/v1/counter", as("b".repeat(20)));
  await other.body?.cancel();
  assert.equal(other.status, 200);
});

Deno.test("health probes are never rate limited", SANITIZED, async () => {
  const config = configYaml({ counter: { backend: "memory" } }, {
    server: { rateLimit: { rules: [{ prefix: "/", limit: 1, window: "1m" }] } },
  });
  await using running = await openApp(config, registry());
  for (let i = 0; i < 3; i++) {
    const response = await running.request("/health");
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("ratelimit-limit"), null);
  }
});

Deno.test("paths no rule covers are not counted", SANITIZED, async () => {
  const config = configYaml({ counter: { backend: "memory" } }, {
    server: { rateLimit: { rules: [{ prefix: "/v1/other", limit: 1, window: "1m" }] } },
  });
  await using running = await openApp(config, registry());
  for (let i = 0; i < 3; i++) {
    const response = await running.request("/v1/counter");
    await response.body?.cancel();
    assert.equal(response.status, 200);
  }
});

Deno.test("a failing store lets requests through rather than failing them", SANITIZED, async () => {
  await using running = await openApp(limited(1), registry(true));
  for (let i = 0; i < 3; i++) {
    const response = await running.request("/v1/counter");
    await response.body?.cancel();
    assert.equal(response.status, 200);
  }
});
