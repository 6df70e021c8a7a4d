/**
 * `deno run -A bench/cache.ts`: load-tests `GET /v1/cache/keys/{key}` of edgebox on its Redis
 * backend against, in the same run, (1) the same GETs made directly with ioredis (the floor:
 * what Redis and the client cost with no HTTP at all) and (2) a minimal Fastify + ioredis server
 * on Node doing the same work (GET and PTTL, bytes back with X-Cache-TTL), the stack a user
 * would otherwise pick. Prints throughput and p99 of each, the ratios, and p99 at half of each
 * HTTP server's maximum rate, next to edgebox's `GET /health` at that rate (the floor the machine
 * and the load generator set: on two shared cores autocannon alone shows milliseconds there).
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379), wrk, and Node + npm for Fastify,
 * which is installed once into BENCH_FASTIFY_DIR (default /tmp/fastify-bench), outside the repo.
 * Tune with BENCH_DURATION (seconds per measurement, default 5), BENCH_CONNECTIONS (default 50),
 * BENCH_VALUE_SIZE (bytes, default 100), BENCH_ROUNDS (default 1; the median is reported).
 *
 * `deno run -A bench/cache.ts serve <port> <redis-url> <prefix>` is the edgebox under test: the
 * real core (`serve`) with the cache plugin in its registry.
 */
import { Redis } from "ioredis";
import { parseConfig } from "../core/config.ts";
import { serve } from "../core/server.ts";
import { cachePlugin } from "../plugins/cache/mod.ts";
import {
  freePort,
  type LoadResult,
  median,
  medianResult,
  percentile,
  resultRow,
  roundRow,
  runAutocannon,
  runWrk,
  withServer,
} from "./_load.ts";

const KEY = "bench-value";
const FASTIFY_VERSION = "5.12.8";
const IOREDIS_VERSION = "6.0.0";

if (Deno.args[0] === "serve") {
  const [, port, url, prefix] = Deno.args;
  const registry = new Map([["cache", cachePlugin]]);
  const config = parseConfig(
    JSON.stringify({
      server: { host: "127.0.0.1", port: Number(port) },
      auth: { mode: "none" },
      plugins: { cache: { backend: "redis", url, keyPrefix: prefix } },
    }),
    { file: "bench-cache.yaml", registry },
  );
  Deno.exit(await serve(config, { registry, source: "bench/cache.ts" }));
}

const env = (name: string, fallback: string) => Deno.env.get(name) ?? fallback;
const redisUrl = env("REDIS_URL", "redis://127.0.0.1:6379");
const duration = Number(env("BENCH_DURATION", "5"));
const connections = Number(env("BENCH_CONNECTIONS", "50"));
const valueSize = Number(env("BENCH_VALUE_SIZE", "100"));
const rounds = Number(env("BENCH_ROUNDS", "1"));
const fastifyDir = env("BENCH_FASTIFY_DIR", "/tmp/fastify-bench");
const prefix = `edgebox-bench:${crypto.randomUUID()}:`;

/** The Fastify + ioredis server a user would write for the same job. */
const FASTIFY_SERVER = `
import Fastify from "fastify";
import { Redis } from "ioredis";

const [port, url, prefix] = process.argv.slice(2);
const redis = new Redis(url);
const app = Fastify({ logger: false });
app.get("/health", () => ({ status: "ok" }));

app.get("/keys/:key", async (request, reply) => {
  const name = prefix + request.params.key;
  const [[, value], [, ttl]] = await redis.pipeline().getBuffer(name).pttl(name).exec();
  if (value === null) return reply.code(404).send({ error: "not found" });
  if (ttl > 0) reply.header("x-cache-ttl", String(Math.ceil(ttl / 1000)));
  return reply.type("application/octet-stream").send(value);
});

await app.listen({ port: Number(port), host: "127.0.0.1" });
`;

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Installs Fastify and ioredis into `fastifyDir` (outside the repo) unless already there. */
async function prepareFastify(): Promise<string> {
  const server = `${fastifyDir}/server.mjs`;
  try {
    await Deno.stat(`${fastifyDir}/node_modules/fastify/package.json`);
    await Deno.stat(`${fastifyDir}/node_modules/ioredis/package.json`);
  } catch {
    console.log(
      `installing fastify@${FASTIFY_VERSION} and ioredis@${IOREDIS_VERSION} into ${fastifyDir}`,
    );
    await Deno.mkdir(fastifyDir, { recursive: true });
    await run("npm", [
      "install",
      "--prefix",
      fastifyDir,
      "--no-audit",
      "--no-fund",
      `fastify@${FASTIFY_VERSION}`,
      `ioredis@${IOREDIS_VERSION}`,
    ]);
  }
  await Deno.writeTextFile(server, FASTIFY_SERVER);
  return server;
}

/** Closed-loop load at full speed with wrk. */
async function wrk(url: string, seconds: number): Promise<LoadResult> {
  const report = await runWrk(url, { connections, seconds });
  if (!report.success) throw new Error(`wrk ${url} failed: ${report.stderr}`);
  if (report.non2xx) throw new Error(`${url} answered errors under load:\n${report.stdout}`);
  return { rps: report.rps, p99Ms: report.p99Ms };
}

/** Open-loop load at a fixed rate with autocannon (wrk has no rate limit). */
async function atRate(url: string, rate: number): Promise<LoadResult> {
  const json = await runAutocannon(url, [
    "-c",
    String(connections),
    "-d",
    String(duration),
    "-R",
    String(Math.round(rate)),
  ]);
  return { rps: json.requests.average, p99Ms: json.latency.p99 };
}

/** `GET` with ioredis directly, `connections` at a time in a closed loop. */
async function direct(seconds: number): Promise<LoadResult> {
  const redis = new Redis(redisUrl);
  const name = `${prefix}peer:${KEY}`;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      await redis.getBuffer(name);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await redis.quit();
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p99Ms: percentile(latencies, 0.99),
  };
}

/** Starts a server, waits for `up`, runs `prepare`, warms `url` up, runs `measure`, stops it. */
function withWarmServer<T>(
  command: string,
  args: string[],
  url: string,
  measure: () => Promise<T>,
  prepare?: () => Promise<void>,
): Promise<T> {
  // edgebox still writes its access log; only the terminal is spared
  // edgebox's cache connects after it listens: /ready, not /health, says it can serve
  const up = `${new URL(url).origin}${prepare ? "/ready" : "/health"}`;
  return withServer(command, args, up, { env: { NO_COLOR: "1" } }, async () => {
    await prepare?.();
    await wrk(url, 2); // warm-up: JIT, connection pools, script cache
    return await measure();
  });
}

// The peers read a plain string (what a user would store); edgebox writes its own key through
// its PUT (one Redis hash, read back with one HGETALL: redis_layout.ts), in each server's start.
const value = "x".repeat(valueSize);
const seed = new Redis(redisUrl);
await seed.set(`${prefix}peer:${KEY}`, value, "EX", 3_600);
const fastifyServer = await prepareFastify();
const self = new URL(import.meta.url).pathname;

const targets = {
  edgebox: () => {
    const port = freePort();
    const url = `http://127.0.0.1:${port}/v1/cache/keys/${KEY}`;
    return {
      url,
      start: (measure: () => Promise<LoadResult>) =>
        withWarmServer(
          Deno.execPath(),
          ["run", "-A", self, "serve", String(port), redisUrl, prefix],
          url,
          measure,
          async () => {
            const response = await fetch(url, { method: "PUT", body: value });
            await response.body?.cancel();
            if (!response.ok) throw new Error(`PUT ${url} answered ${response.status}`);
          },
        ),
    };
  },
  fastify: () => {
    const port = freePort();
    const url = `http://127.0.0.1:${port}/keys/${KEY}`;
    return {
      url,
      start: (measure: () => Promise<LoadResult>) =>
        withWarmServer(
          "node",
          [fastifyServer, String(port), redisUrl, `${prefix}peer:`],
          url,
          measure,
        ),
    };
  },
};

console.log(
  `GET /keys/{key} (${valueSize}-byte value), ${connections} connections, ${duration}s x ${rounds} ` +
    `round(s); Redis at ${redisUrl}`,
);
const samples: Record<string, LoadResult[]> = {
  "ioredis direct": [],
  edgebox: [],
  "fastify+ioredis": [],
};
const halfRate: Record<string, LoadResult[]> = { edgebox: [], "fastify+ioredis": [] };
/** edgebox's `GET /health` at the same half rate: the p99 the machine and load generator allow. */
const floor: LoadResult[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    await direct(1); // warm-up
    samples["ioredis direct"]!.push(await direct(duration));
    // Alternate which server goes first, so a drift in machine load favours neither.
    const order = [["edgebox", targets.edgebox], ["fastify+ioredis", targets.fastify]] as const;
    for (const [name, make] of round % 2 === 1 ? order : [...order].reverse()) {
      const target = make();
      await target.start(async () => {
        const max = await wrk(target.url, duration);
        samples[name]!.push(max);
        halfRate[name]!.push(await atRate(target.url, max.rps / 2));
        if (name === "edgebox") {
          floor.push(await atRate(`${new URL(target.url).origin}/health`, max.rps / 2));
        }
        return max;
      });
    }
    for (const [name, results] of Object.entries(samples)) {
      console.log(roundRow(round, name, results.at(-1)!));
    }
  }
} finally {
  await seed.del(prefix + KEY, `${prefix}peer:${KEY}`);
  await seed.quit();
}

const summary = Object.fromEntries(
  Object.entries(samples).map(([name, results]) => [name, medianResult(results)]),
) as Record<string, LoadResult>;
const half = Object.fromEntries(
  Object.entries(halfRate).map(([name, results]) => [name, medianResult(results)]),
) as Record<string, LoadResult>;

console.log("\nmedian of rounds (max rate, closed loop, wrk):");
for (const [name, result] of Object.entries(summary)) {
  console.log(resultRow(name, result));
}
console.log("at half of each server's max rate (open loop, autocannon):");
for (const [name, result] of Object.entries(half)) {
  console.log(resultRow(name, result));
}
console.log(resultRow("floor: /health", medianResult(floor)));
const edgebox = summary["edgebox"]!;
// Each round's ratio compares two runs seconds apart, so machine noise mostly cancels out.
const ratios = samples["edgebox"]!.map((r, i) => r.rps / samples["fastify+ioredis"]![i]!.rps);
console.log(
  `\nedgebox / fastify+ioredis throughput: ${median(ratios).toFixed(3)} median of per-round ` +
    `ratios (${ratios.map((r) => r.toFixed(2)).join(", ")}; target >= 1.2)`,
);
console.log(
  `edgebox / ioredis direct throughput:  ${
    (edgebox.rps / summary["ioredis direct"]!.rps).toFixed(3)
  }`,
);
console.log(
  `edgebox p99 at half its max rate:    ${half["edgebox"]!.p99Ms.toFixed(2)} ms (target < 2;` +
    ` GET /health at that rate: ${medianResult(floor).p99Ms.toFixed(2)} ms)`,
);
