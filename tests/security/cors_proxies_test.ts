/**
 * `server.trustedProxies` and `server.cors` against a hostile client: a spoofed `X-Forwarded-For`
 * from a peer that is not a trusted proxy is ignored (it picks no rate-limit bucket), CORS never
 * reflects an unlisted origin, and a preflight never reaches auth, limits or a plugin's route.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { clientIpResolver, parseCidr } from "../../core/client_ip.ts";
import { definePlugin, type PluginRegistry, provide } from "../../core/plugin.ts";
import { RATE_LIMIT_STORE, type RateLimitResult } from "../../core/rate_limit.ts";
import { createRouter } from "../../core/routes.ts";
import { configYaml, loadConfig, openApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const KEY = "a-test-key-of-enough-length";
const ALLOWED = "https://app.example.com";

/** A plugin whose route counts its calls and which counts rate limits per key in memory. */
function counting() {
  const calls = { route: 0 };
  const buckets = new Map<string, number>();
  const plugin = definePlugin({
    type: "counter",
    description: "Counts route calls and rate limits (test)",
    config: z.discriminatedUnion("backend", [z.strictObject({ backend: z.literal("memory") })]),
    backends: ["memory"],
    provides: [provide(RATE_LIMIT_STORE, (exports: { rateLimit: unknown }) => exports as never)],
    create() {
      const routes = createRouter();
      routes.all("/*", (c) => {
        calls.route++;
        return c.json({ ok: true });
      });
      return {
        routes,
        exports: {
          rateLimit(key: string, limit: number): Promise<RateLimitResult> {
            const count = (buckets.get(key) ?? 0) + 1;
            buckets.set(key, count);
            return Promise.resolve({
              allowed: count <= limit,
              limit,
              remaining: limit - count,
              resetMs: 60_000,
            });
          },
        },
      };
    },
  });
  const registry: PluginRegistry = new Map([["counter", plugin]]);
  return { registry, calls, buckets };
}

function peer(hostname: string) {
  return { remoteAddr: { transport: "tcp" as const, hostname, port: 40_000 } };
}

// --- trusted proxies -----------------------------------------------------------------------

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));

Deno.test("a peer that is not a trusted proxy is the client, whatever X-Forwarded-For says", () => {
  const resolve = clientIpResolver(["10.0.0.0/8", "fd00::/8"]);
  fc.assert(
    fc.property(
      ipv4.filter((ip) => !ip.startsWith("10.")),
      fc.string({ maxLength: 200 }),
      (client, header) => resolve(client, header) === client,
    ),
    runs(500),
  );
});

Deno.test("behind trusted proxies the client is the rightmost untrusted hop", () => {
  const resolve = clientIpResolver(["10.0.0.0/8"]);
  fc.assert(
    fc.property(
      fc.array(ipv4, { minLength: 0, maxLength: 4 }),
      ipv4.filter((ip) => !ip.startsWith("10.")),
      fc.array(ipv4.map((ip) => `10.${ip.split(".").slice(1).join(".")}`), { maxLength: 3 }),
      (spoofed, client, proxies) => {
        const header = [...spoofed, client, ...proxies].join(", ");
        return resolve("10.1.2.3", header) === client;
      },
    ),
    runs(500),
  );
  assert.equal(resolve("10.0.0.1", "garbage, 10.0.0.2"), "10.0.0.2");
  assert.equal(resolve("10.0.0.1", null), "10.0.0.1");
  assert.equal(clientIpResolver([])("1.2.3.4", "5.6.7.8"), "1.2.3.4");
});

Deno.test("CIDRs parse for IPv4, IPv6 and bare addresses, and nothing else", () => {
  for (
    const ok of ["10.0.0.0/8", "192.168.1.10", "::1", "fd00::/8", "::ffff:10.0.0.1", "0.0.0.0/0"]
  ) {
    assert.ok(parseCidr(ok), ok);
  }
  for (
    const bad of ["10.0.0.0/33", "256.0.0.1", "10.0.0", "fd00::/129", "a.b.c.d", "1.2.3.4/8/8", ""]
  ) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
  const resolve = clientIpResolver(["::ffff:10.0.0.0/104"]);
  assert.equal(resolve("10.9.9.9", "203.0.113.7"), "203.0.113.7");
});

Deno.test(
  "rate limiting by ip: a spoofed X-Forwarded-For is ignored, a trusted proxy's is believed",
  SANITIZED,
  async () => {
    const { registry, buckets } = counting();
    await using running = await openApp(
      configYaml({ counter: { backend: "memory" } }, {
        server: {
          trustedProxies: ["10.0.0.0/8"],
          rateLimit: { by: "ip", rules: [{ prefix: "/v1/", limit: 100, window: "1m" }] },
        },
      }),
      registry,
    );
    const send = async (from: string, forwarded: string) => {
      const request = new Request("http://localhost/v1/counter/x", {
        headers: { "x-forwarded-for": forwarded },
      });
      const response = await running.app.fetch(request, peer(from));
      await response.body?.cancel();
      assert.equal(response.status, 200);
    };
    await send("203.0.113.9", "198.51.100.1"); // untrusted peer: its own address counts
    await send("203.0.113.9", "198.51.100.2");
    await send("10.0.0.5", "198.51.100.1"); // through the proxy: the forwarded client counts
    await send("10.0.0.5", "198.51.100.2, 10.0.0.7");
    assert.deepEqual(
      [...buckets.entries()].sort(),
      [
        ["ratelimit:/v1/:ip:198.51.100.1", 1],
        ["ratelimit:/v1/:ip:198.51.100.2", 1],
        ["ratelimit:/v1/:ip:203.0.113.9", 2],
      ],
    );
  },
);

Deno.test("trustedProxies that are not CIDRs are refused at load", () => {
  const { registry } = counting();
  assert.throws(
    () => loadConfig(configYaml({}, { server: { trustedProxies: ["10.0.0.0/40"] } }), registry),
    /server\.trustedProxies\.0: Expected an IP address or CIDR/,
  );
});

// --- CORS -----------------------------------------------------------------------------------

const corsConfig = (extra: Record<string, unknown> = {}) =>
  configYaml({ counter: { backend: "memory" } }, {
    server: { cors: { origins: [ALLOWED], ...extra } },
    auth: { keys: [{ name: "test", key: KEY }] },
  });

const origin = fc.oneof(
  fc.webUrl({ withQueryParameters: false, withFragments: false }).map((url) => new URL(url).origin),
  fc.constantFrom(
    "null",
    `${ALLOWED}.evil.com`,
    "https://APP.example.com",
    `${ALLOWED}:443`,
    "http://app.example.com",
    "https://example.com",
  ),
).filter((candidate) => candidate !== ALLOWED);

const paths = fc.constantFrom(
  "/v1/counter",
  "/v1/counter/a/b",
  "/plugins",
  "/ready",
  "/openapi.json",
  "/nope",
);
const methods = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH");

Deno.test(
  "CORS never reflects an unlisted origin, on a preflight or a request",
  SANITIZED,
  async () => {
    const { registry } = counting();
    await using running = await openApp(corsConfig(), registry);
    await fc.assert(
      fc.asyncProperty(origin, paths, methods, async (from, path, method) => {
        const preflight = await running.request(path, {
          method: "OPTIONS",
          headers: { origin: from, "access-control-request-method": method },
        });
        await preflight.body?.cancel();
        const actual = await running.request(path, {
          method,
          headers: { origin: from, authorization: `Bearer ${KEY}` },
        });
        await actual.body?.cancel();
        for (const response of [preflight, actual]) {
          assert.equal(response.headers.get("access-control-allow-origin"), null, from);
          assert.equal(response.headers.get("access-control-allow-credentials"), null);
        }
      }),
      runs(150),
    );
  },
);

Deno.test("a preflight never reaches auth, limits or a plugin route", SANITIZED, async () => {
  const { registry, calls, buckets } = counting();
  await using running = await openApp(
    configYaml({ counter: { backend: "memory" } }, {
      server: {
        cors: { origins: [ALLOWED] },
        rateLimit: { by: "ip", rules: [{ prefix: "/", limit: 1, window: "1m" }] },
      },
      auth: { keys: [{ name: "test", key: KEY }] },
    }),
    registry,
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(origin, fc.constant(ALLOWED)),
      paths,
      methods,
      async (from, path, method) => {
        const response = await running.request(path, {
          method: "OPTIONS",
          headers: {
            origin: from,
            "access-control-request-method": method,
            "access-control-request-headers": "authorization, content-type",
          },
        });
        await response.body?.cancel();
        assert.equal(response.status, 204);
        assert.equal(response.headers.get("www-authenticate"), null);
        assert.equal(calls.route, 0);
        assert.equal(buckets.size, 0);
      },
    ),
    runs(150),
  );
});

Deno.test("an allowed origin gets its CORS headers, on errors too", SANITIZED, async () => {
  const { registry } = counting();
  await using running = await openApp(corsConfig({ credentials: true, maxAge: "1h" }), registry);
  const preflight = await running.request("/v1/counter", {
    method: "OPTIONS",
    headers: {
      origin: ALLOWED,
      "access-control-request-method": "PUT",
      "access-control-request-headers": "Authorization, Content-Type",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
  assert.match(preflight.headers.get("access-control-allow-methods")!, /PUT/);
  assert.equal(
    preflight.headers.get("access-control-allow-headers"),
    "authorization, content-type",
  );
  assert.equal(preflight.headers.get("access-control-max-age"), "3600");
  assert.match(preflight.headers.get("vary")!, /Origin/);

  const unauthorized = await running.request("/v1/counter", { headers: { origin: ALLOWED } });
  await unauthorized.body?.cancel();
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.headers.get("access-control-allow-origin"), ALLOWED);
  assert.match(unauthorized.headers.get("access-control-expose-headers")!, /x-request-id/);

  const refusedHeader = await running.request("/v1/counter", {
    method: "OPTIONS",
    headers: {
      origin: ALLOWED,
      "access-control-request-method": "GET",
      "access-control-request-headers": "x-secret-header",
    },
  });
  assert.equal(refusedHeader.headers.get("access-control-allow-origin"), null);
});

Deno.test("without server.cors no CORS header is ever sent", SANITIZED, async () => {
  const { registry } = counting();
  await using running = await openApp(configYaml({ counter: { backend: "memory" } }), registry);
  const response = await running.request("/v1/counter", { headers: { origin: ALLOWED } });
  await response.body?.cancel();
  assert.equal(response.headers.get("access-control-allow-origin"), null);
});

Deno.test("credentials with origin * is refused at load", () => {
  const { registry } = counting();
  assert.throws(
    () =>
      loadConfig(
        configYaml({}, { server: { cors: { origins: ["*"], credentials: true } } }),
        registry,
      ),
    /server\.cors\.credentials: credentials: true needs the allowed origins listed/,
  );
});
