/**
 * A fair peer: the Hono app a user would write on Deno for edgebox's job, with the same
 * conventions — `hono/request-id` (kept from `X-Request-Id`, echoed), one JSON access-log line
 * per non-probe request, prom-client's request counter and duration histogram by route
 * template — and, for the cache route, one ioredis `GET` of a plain string key.
 *
 *   deno run -A bench/targets/peer_hono.ts <port> <redis url> <key prefix>
 */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { Redis } from "ioredis";
import { Counter, Histogram, Registry } from "prom-client";

const [port = "0", redisUrl = "redis://127.0.0.1:6379", prefix = ""] = Deno.args;
const redis = new Redis(redisUrl);
const registry = new Registry();
const labelNames = ["method", "route", "status"] as const;
const requests = new Counter({
  name: "http_requests_total",
  help: "HTTP requests answered",
  labelNames,
  registers: [registry],
});
const durations = new Histogram({
  name: "http_request_duration_seconds",
  help: "Time from request to response headers",
  labelNames,
  registers: [registry],
});
const PROBES = new Set(["/health", "/ready"]);
let count = 0;

const app = new Hono<{ Variables: { requestId: string } }>();
app.use(requestId());
app.use(async (c, next) => {
  const started = performance.now();
  await next();
  const elapsed = performance.now() - started;
  const labels = { method: c.req.method, route: routePath(c), status: String(c.res.status) };
  requests.inc(labels);
  durations.observe(labels, elapsed / 1000);
  if (!PROBES.has(c.req.path)) {
    console.log(JSON.stringify({
      time: new Date().toISOString(),
      level: "info",
      msg: "request",
      ...labels,
      requestId: c.get("requestId"),
      durationMs: Math.round(elapsed * 1000) / 1000,
    }));
  }
});
app.get("/health", (c) => c.json({ status: "ok" }));
app.get("/v1/echo", (c) => c.json({ greeting: "hello from edgebox", requests: ++count }));
app.get("/v1/cache/keys/:key", async (c) => {
  const value = await redis.getBuffer(prefix + c.req.param("key"));
  if (value === null) return c.json({ error: "not found" }, 404);
  return c.body(new Uint8Array(value), 200, { "content-type": "application/octet-stream" });
});
app.get("/metrics", async (c) => c.text(await registry.metrics()));

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {} }, app.fetch);
