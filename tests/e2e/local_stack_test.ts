/**
 * edgebox on its real backends: `config/local-stack.yaml` against the services `deno task stack`
 * (or `.ci/run`) starts, and a backend that goes away and comes back under a running edgebox.
 */
import assert from "node:assert/strict";
import { realService } from "../contract/_services.ts";
import { spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

const env = (name: string, fallback: string) => Deno.env.get(name) ?? fallback;

const services = {
  nats: [env("NATS_URL", "nats://127.0.0.1:4222"), 4222],
  redis: [env("REDIS_URL", "redis://127.0.0.1:6379"), 6379],
  neo4j: [env("NEO4J_URL", "bolt://127.0.0.1:7687"), 7687],
  minio: [env("S3_ENDPOINT", "http://127.0.0.1:9000"), 9000],
} as const;

let everyServiceUp = true;
for (const [name, [url, port]] of Object.entries(services)) {
  if (!await realService(`local stack: ${name}`, url, port)) everyServiceUp = false;
}

if (everyServiceUp) {
  Deno.test("on config/local-stack.yaml every plugin is ready on its real backend", async () => {
    const edgebox = await spawnEdgebox({
      args: [
        "serve",
        "--config",
        new URL("../../config/local-stack.yaml", import.meta.url).pathname,
        "--port",
        "0",
      ],
      env: { EDGEBOX_PORT: "0" },
    });
    try {
      const report = await waitForStatus(`${edgebox.url}/ready`, 200, 60_000);
      const backends = Object.fromEntries(
        Object.entries(report.plugins as Record<string, { backend?: string; state: string }>)
          .map(([name, plugin]) => [name, `${plugin.backend ?? "-"}:${plugin.state}`]),
      );
      assert.equal(backends.messaging, "nats:ready");
      assert.equal(backends.cache, "redis:ready");
      assert.equal(backends.graph, "neo4j:ready");
      assert.equal(backends.storage, "s3:ready");
    } finally {
      edgebox.kill();
      assert.equal((await edgebox.exited()).code, 0);
    }
  });
}

/** The redis-server binary the stack uses, if there is one. */
function redisServer(): string | undefined {
  const candidates = [
    Deno.env.get("REDIS_SERVER_BIN"),
    "/usr/bin/redis-server",
    "/usr/local/bin/redis-server",
  ];
  return candidates.find((path) => {
    try {
      return path !== undefined && Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function startRedis(binary: string, port: number): Deno.ChildProcess {
  return new Deno.Command(binary, {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

const redisBinary = redisServer();
Deno.test({
  name: redisBinary
    ? "a cache whose Redis stops turns /ready 503 naming it, and recovers when Redis returns"
    : "a cache whose Redis stops turns /ready 503 (ignored: no redis-server binary; set REDIS_SERVER_BIN)",
  ignore: redisBinary === undefined && Deno.env.get("EDGEBOX_REQUIRE_SERVICES") !== "1",
  async fn() {
    assert.ok(redisBinary, "redis-server is required (EDGEBOX_REQUIRE_SERVICES=1)");
    const port = freePort();
    let redis = startRedis(redisBinary, port);
    const config = await Deno.makeTempFile({ suffix: ".yaml" });
    await Deno.writeTextFile(
      config,
      `plugins:
  cache:
    backend: redis
    url: redis://127.0.0.1:${port}
    healthInterval: 200ms
    reconnect: { initialDelay: 100ms, maxDelay: 500ms }
`,
    );
    const edgebox = await spawnEdgebox({ args: ["serve", "--config", config, "--port", "0"] });
    try {
      await waitForStatus(`${edgebox.url}/ready`, 200, 30_000);

      redis.kill("SIGKILL");
      await redis.status;
      const down = await waitForStatus(`${edgebox.url}/ready`, 503, 30_000);
      assert.equal(down.plugins.cache.state, "degraded");
      const refused = await fetch(`${edgebox.url}/v1/cache/keys/probe`);
      await refused.body?.cancel();
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get("retry-after")) >= 1, "503 carries Retry-After");

      redis = startRedis(redisBinary, port);
      const back = await waitForStatus(`${edgebox.url}/ready`, 200, 30_000);
      assert.equal(back.plugins.cache.state, "ready");
    } finally {
      edgebox.kill();
      const status = await edgebox.exited();
      try {
        redis.kill("SIGTERM");
      } catch {
        // It already exited (the test failed while it was down).
      }
      await redis.status;
      await Deno.remove(config);
      assert.equal(status.code, 0, "edgebox never crashed and stopped cleanly");
    }
  },
});
