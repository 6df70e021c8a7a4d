/**
 * The HTTP routes of `deno task bench` against the fair peers: `GET /health`, `GET /v1/echo` and
 * `GET /v1/cache/keys/{key}` (Redis) of edgebox, of a Hono app on Deno and a Fastify 5 app on
 * Node with the same conventions (bench/targets/peer_*.ts: request id, one JSON access-log line
 * per non-probe request, prom-client counter + histogram by route, one ioredis GET), and
 * `/health` of a bare `Deno.serve`. Each round starts every target in turn (the order reversed
 * every other round, so a drift in machine load favours none) and loads each of its routes with
 * wrk; the figures are the medians of rounds, the ratios the medians of per-round ratios.
 *
 * edgebox runs main.ts with observability (metrics, access log), echo and a Redis cache; its key
 * is written through its own `PUT` (one Redis hash, read back with one HGETALL), the peers'
 * key holds the same bytes as a plain string (what a user writing the same job would store).
 * Run alone: `deno run -A bench/routes.ts`; see bench/main.ts for the environment it reads.
 */
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { stringify } from "yaml";
import {
  freePort,
  type LoadResult,
  median,
  medianResult,
  roundRow,
  runWrk,
  withServer,
} from "./_load.ts";
import { prepareFastifyPeer } from "./_peers.ts";

/** How `benchRoutes` loads. */
export interface RouteBenchOptions {
  seconds: number;
  connections: number;
  rounds: number;
  redisUrl: string;
  /** Bytes of the cached value. */
  valueSize: number;
}

/** One route: each target's median figures and edgebox's median per-round ratio to each. */
export interface RouteFigures {
  route: string;
  results: Record<string, LoadResult>;
  /** `edgebox rps / target rps`, the median of per-round ratios, by target. */
  ratios: Record<string, number>;
}

const KEY = "bench-value";
const ROUTES = {
  health: "GET /health",
  echo: "GET /v1/echo",
  cache: "GET /v1/cache/keys/{key} (Redis)",
} as const;
type RouteName = keyof typeof ROUTES;
const PATHS: Record<RouteName, string> = {
  health: "/health",
  echo: "/v1/echo",
  cache: `/v1/cache/keys/${KEY}`,
};
const root = new URL("..", import.meta.url).pathname;

interface Target {
  name: string;
  routes: RouteName[];
  /** The path that answers 200 once it can serve (default `/health`). */
  ready?: string;
  /** Command and arguments for a port. */
  command(port: number): [string, string[]];
  /** Work once it answers, before the warm-up (edgebox: write its cache key). */
  prepare?(origin: string): Promise<void>;
}

/** Runs every target of every round and returns one row of figures per route. */
export async function benchRoutes(options: RouteBenchOptions): Promise<RouteFigures[]> {
  const value = new Uint8Array(options.valueSize).fill(120);
  const prefix = `edgebox-bench:${crypto.randomUUID().slice(0, 8)}:`;
  const dir = await Deno.makeTempDir({ prefix: "edgebox-bench-routes-" });
  const config = `${dir}/edgebox.yaml`;
  await Deno.writeTextFile(
    config,
    stringify({
      server: { host: "127.0.0.1", port: 8080, dataDir: `${dir}/data` },
      log: { level: "info" },
      plugins: {
        observability: { metrics: { enabled: true }, accessLog: true },
        echo: { backend: "memory", greeting: "hello from edgebox" },
        cache: { backend: "redis", url: options.redisUrl, keyPrefix: prefix },
      },
    }),
  );
  const redis = new Redis(options.redisUrl);
  await redis.set(`${prefix}peer:${KEY}`, Buffer.from(value), "EX", 3_600);
  const fastify = await prepareFastifyPeer();
  const peerArgs = [options.redisUrl, `${prefix}peer:`];
  const targets: Target[] = [
    {
      name: "edgebox",
      routes: ["health", "echo", "cache"],
      ready: "/ready", // its cache connects after it listens
      command: (port) => [Deno.execPath(), [
        "run",
        "-A",
        `${root}main.ts`,
        "serve",
        "--config",
        config,
        "--port",
        String(port),
      ]],
      prepare: async (origin) => {
        const response = await fetch(`${origin}${PATHS.cache}`, { method: "PUT", body: value });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`PUT ${PATHS.cache} answered ${response.status}`);
      },
    },
    {
      name: "Hono",
      routes: ["health", "echo", "cache"],
      command: (port) => [Deno.execPath(), [
        "run",
        "-A",
        `${root}bench/targets/peer_hono.ts`,
        String(port),
        ...peerArgs,
      ]],
    },
    {
      name: "Fastify",
      routes: ["health", "echo", "cache"],
      command: (port) => ["node", [fastify, String(port), ...peerArgs]],
    },
    {
      name: "Deno.serve",
      routes: ["health"],
      command: (port) => [Deno.execPath(), [
        "run",
        "--allow-net",
        `${root}bench/targets/bare_deno.ts`,
        String(port),
      ]],
    },
  ];
  const samples = new Map<string, LoadResult[]>();
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of round % 2 === 1 ? targets : targets.toReversed()) {
        const port = freePort();
        const origin = `http://127.0.0.1:${port}`;
        const [command, args] = target.command(port);
        await withServer(
          command,
          args,
          `${origin}${target.ready ?? "/health"}`,
          { env: { NO_COLOR: "1" } },
          async () => {
            await target.prepare?.(origin);
            for (const route of target.routes) {
              const url = `${origin}${PATHS[route]}`;
              await load(url, 2, options.connections); // warm-up: JIT, connection pools
              const result = await load(url, options.seconds, options.connections);
              const key = `${route} ${target.name}`;
              samples.set(key, [...samples.get(key) ?? [], result]);
              console.log(roundRow(round, `${target.name} ${PATHS[route]}`.slice(0, 16), result));
            }
          },
        );
      }
    }
  } finally {
    await redis.del(`${prefix}${KEY}`, `${prefix}peer:${KEY}`);
    await redis.quit();
    await Deno.remove(dir, { recursive: true });
  }
  return (Object.keys(ROUTES) as RouteName[]).map((route) => {
    const results: Record<string, LoadResult> = {};
    const ratios: Record<string, number> = {};
    const ours = samples.get(`${route} edgebox`)!;
    for (const target of targets.filter((t) => t.routes.includes(route))) {
      const runs = samples.get(`${route} ${target.name}`)!;
      results[target.name] = medianResult(runs);
      if (target.name !== "edgebox") {
        ratios[target.name] = median(runs.map((run, i) => ours[i]!.rps / run.rps));
      }
    }
    return { route: ROUTES[route], results, ratios };
  });
}

async function load(url: string, seconds: number, connections: number): Promise<LoadResult> {
  const report = await runWrk(url, { connections, seconds });
  if (!report.success) throw new Error(`wrk ${url} failed: ${report.stderr}`);
  if (report.non2xx) throw new Error(`${url} answered errors under load:\n${report.stdout}`);
  return { rps: report.rps, p99Ms: report.p99Ms };
}

if (import.meta.main) {
  const env = (name: string, fallback: number) => Number(Deno.env.get(name) ?? fallback);
  const rows = await benchRoutes({
    seconds: env("BENCH_DURATION", 8),
    connections: env("BENCH_CONNECTIONS", 50),
    rounds: env("BENCH_ROUNDS", 3),
    redisUrl: Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379",
    valueSize: env("BENCH_VALUE_SIZE", 100),
  });
  console.log(JSON.stringify(rows, null, 2));
}
