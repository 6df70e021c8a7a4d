/**
 * A fair peer: the Fastify 5 app a user would write on Node for edgebox's job, with the same
 * conventions — the request id from `X-Request-Id` (generated when absent, echoed), one pino
 * line per non-probe request, prom-client's request counter and duration histogram by route
 * template — and, for the cache route, one ioredis `GET` of a plain string key. Its source is
 * kept here as text: bench/_peers.ts writes it next to the packages it installs outside the
 * repo, where Node resolves its imports, and runs it:
 *
 *   node peer_fastify.mjs <port> <redis url> <key prefix>
 */
export const FASTIFY_PEER = `
import { randomUUID } from "node:crypto";
import Fastify from "fastify";
import { Redis } from "ioredis";
import { Counter, Histogram, Registry } from "prom-client";

const [port = "0", redisUrl = "redis://127.0.0.1:6379", prefix = ""] = process.argv.slice(2);
const redis = new Redis(redisUrl);
const registry = new Registry();
const labelNames = ["method", "route", "status"];
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

const app = Fastify({
  logger: { level: "info" },
  disableRequestLogging: true, // one line per request, written below, instead of two
  requestIdHeader: "x-request-id",
  genReqId: () => randomUUID(),
});
app.addHook("onRequest", (request, reply, done) => {
  reply.header("x-request-id", request.id);
  done();
});
app.addHook("onResponse", (request, reply, done) => {
  const route = request.routeOptions.url ?? "(unmatched)";
  const labels = { method: request.method, route, status: String(reply.statusCode) };
  const elapsed = reply.elapsedTime;
  requests.inc(labels);
  durations.observe(labels, elapsed / 1000);
  if (!PROBES.has(route)) {
    request.log.info({ ...labels, durationMs: Math.round(elapsed * 1000) / 1000 }, "request");
  }
  done();
});
app.get("/health", () => ({ status: "ok" }));
app.get("/v1/echo", () => ({ greeting: "hello from edgebox", requests: ++count }));
app.get("/v1/cache/keys/:key", async (request, reply) => {
  const value = await redis.getBuffer(prefix + request.params.key);
  if (value === null) return reply.code(404).send({ error: "not found" });
  return reply.type("application/octet-stream").send(value);
});
app.get(
  "/metrics",
  async (_request, reply) => reply.type("text/plain").send(await registry.metrics()),
);

await app.listen({ port: Number(port), host: "127.0.0.1" });
`;
