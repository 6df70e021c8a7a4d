/**
 * `deno run -A bench/graph.ts`: the graph plugin on a generated graph (10,000 nodes, 50,000
 * DEPENDS_ON edges by default), a 5-hop neighbour query and a shortest path, each through
 * edgebox's HTTP API and through the driver directly, in the same run and in the same order of
 * start nodes, so the ratio is the cost of HTTP + edgebox. On Neo4j the direct side is
 * `neo4j-driver` running the very Cypher the plugin sends; on the memory backend it is the
 * plugin's own driver object.
 *
 * Three ways per query: `driver` (direct), `app` (the whole edgebox app called in-process with
 * `app.request`, no network: routing, validation, driver, JSON) alternating request by request
 * with `driver`, and `http` (over TCP). The server runs in this process (`createApp` +
 * `Deno.serve` on a free port). HTTP load comes
 * from wrk (one connection, a Lua script walking the same start nodes), so no client work runs in
 * the server's process; the direct side runs in this process while the server idles. Requests are
 * sequential on both sides (one in flight), so latencies are per request and nothing queues.
 * The two sides alternate in rounds and each figure is the median over rounds, to even out a
 * noisy machine. Without wrk, HTTP requests are made with fetch from this process instead.
 *
 * Tune with BENCH_SECONDS (per target, default 6), BENCH_ROUNDS (default 3), BENCH_NODES,
 * BENCH_EDGES, BENCH_BACKENDS (default "neo4j,memory"), NEO4J_URL/NEO4J_USER/NEO4J_PASSWORD.
 */
import neo4j, { type ManagedTransaction, type Path } from "neo4j-driver";
import { createApp } from "../core/app.ts";
import { parseConfig } from "../core/config.ts";
import { Lifecycle } from "../core/lifecycle.ts";
import { createLogger } from "../core/log.ts";
import type { GraphDriver } from "../plugins/graph/driver.ts";
import { graphPlugin } from "../plugins/graph/mod.ts";
import { constraintName } from "../plugins/graph/neo4j.ts";
import { neighborsQuery, pathQuery } from "../plugins/graph/neo4j_statements.ts";
import { haveWrk, median, percentile, runWrk } from "./_load.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 6);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const NODES = Number(Deno.env.get("BENCH_NODES") ?? 10_000);
const EDGES = Number(Deno.env.get("BENCH_EDGES") ?? 50_000);
const BACKENDS = (Deno.env.get("BENCH_BACKENDS") ?? "neo4j,memory").split(",").map((b) => b.trim());
const NEO4J_URL = Deno.env.get("NEO4J_URL") ?? "bolt://127.0.0.1:7687";
const NEO4J_USER = Deno.env.get("NEO4J_USER") ?? "neo4j";
const NEO4J_PASSWORD = Deno.env.get("NEO4J_PASSWORD") ?? "edgebox-local";
const DEPTH = 5;
const PATH_DEPTH = 10;
const LIMIT = 1_000;
const CHUNK = 5_000;

/** Latencies of one target, in milliseconds. */
type Samples = number[];

/** One way of asking a question: returns how many nodes the answer had. */
type Ask = (i: number) => Promise<number>;

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A seeded random directed graph: ids and distinct edges (no self-loops). */
function generate(n: number, m: number): { ids: string[]; edges: [number, number][] } {
  const random = mulberry32(42);
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  const seen = new Set<number>();
  const edges: [number, number][] = [];
  while (edges.length < m) {
    const a = Math.floor(random() * n);
    const b = Math.floor(random() * n);
    if (a === b || seen.has(a * n + b)) continue;
    seen.add(a * n + b);
    edges.push([a, b]);
  }
  return { ids, edges };
}

function stats(samples: Samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { n: sorted.length, mean, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function reachable(url: string): Promise<boolean> {
  const parsed = new URL(url.replace(/^[a-z+]+:/, "http:"));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: parsed.hostname, port: Number(parsed.port || 7687) }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), 2_000);
      }),
    ]);
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts edgebox with one graph instance on a free port. */
async function serve(block: Record<string, unknown>) {
  const yaml = JSON.stringify({
    server: { bodyLimit: "64MiB" },
    plugins: { graph: { ...block, timeouts: { start: "60s" } } },
  });
  const registry = new Map([["graph", graphPlugin]]);
  const config = parseConfig(yaml, { file: "bench.yaml", registry, env: () => undefined });
  const log = createLogger({ write: () => {}, format: "json" });
  await graphPlugin.load?.();
  const lifecycle = new Lifecycle(config, { registry, log });
  await lifecycle.start();
  const app = createApp({ config, lifecycle, log });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    origin,
    app,
    base: `${origin}/v1/graph`,
    driver: lifecycle.get("graph")!.instance.exports as GraphDriver,
    async close() {
      await server.shutdown();
      await lifecycle.stop();
    },
  };
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 300)}`);
}

/** Loads the graph through `POST /batch`; returns items per second. */
async function load(
  base: string,
  label: string,
  type: string,
  graph: ReturnType<typeof generate>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < graph.ids.length; i += CHUNK) {
    await post(`${base}/batch`, {
      items: graph.ids.slice(i, i + CHUNK).map((id, k) => ({
        op: "node",
        label,
        id,
        properties: { title: `Node ${id}`, rank: i + k },
      })),
    });
  }
  for (let i = 0; i < graph.edges.length; i += CHUNK) {
    await post(`${base}/batch`, {
      items: graph.edges.slice(i, i + CHUNK).map(([a, b]) => ({
        op: "edge",
        from: { label, id: graph.ids[a] },
        type,
        to: { label, id: graph.ids[b] },
      })),
    });
  }
  return (graph.ids.length + graph.edges.length) / ((performance.now() - started) / 1000);
}

/** Latency summary of one block of requests, in milliseconds. */
interface Summary {
  n: number;
  mean: number;
  p50: number;
  p99: number;
}

/**
 * Runs each way of asking in turn, request by request, over consecutive inputs for `seconds`:
 * they see the same inputs and the same moments of machine noise.
 */
async function timeTurns(asks: Ask[], seconds: number): Promise<(Summary & { avgSize: number })[]> {
  const samples: Samples[] = asks.map(() => []);
  const sizes = asks.map(() => 0);
  const deadline = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < deadline; i++) {
    for (const [k, ask] of asks.entries()) {
      const started = performance.now();
      sizes[k]! += await ask(i);
      samples[k]!.push(performance.now() - started);
    }
  }
  return samples.map((s, k) => ({ ...stats(s), avgSize: sizes[k]! / s.length }));
}

/**
 * One wrk run over `paths` in order (one connection), for `seconds`. Non-2xx answers fail the
 * run unless `notFoundIsAnswer` (a path query answers 404 when there is no path).
 */
async function wrkBlock(
  origin: string,
  paths: string[],
  seconds: number,
  notFoundIsAnswer: boolean,
): Promise<Summary> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    await Deno.writeTextFile(
      script,
      `local paths = {\n${paths.map((p) => `  "${p}",`).join("\n")}\n}\n` +
        "local i = 0\nrequest = function()\n  i = i + 1\n" +
        '  return wrk.format("GET", paths[((i - 1) % #paths) + 1])\nend\n',
    );
    const report = await runWrk(origin, {
      connections: 1,
      seconds: Math.max(1, Math.round(seconds)),
      script,
    });
    if (report.non2xx && !notFoundIsAnswer) throw new Error(`wrk saw errors:\n${report.stdout}`);
    return { n: report.requests, mean: report.meanMs, p50: report.p50Ms, p99: report.p99Ms };
  } finally {
    await Deno.remove(script);
  }
}

/** Median of each figure over rounds; `n` is the total. */
function combine(rounds: Summary[]): Summary {
  return {
    n: rounds.reduce((sum, r) => sum + r.n, 0),
    mean: median(rounds.map((r) => r.mean)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
  };
}

async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(url);
  const text = await response.text();
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function bench(backend: string, wrk: boolean): Promise<void> {
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const label = `Bench${suffix}`;
  const type = `DEP${suffix}`;
  const graph = generate(NODES, EDGES);
  const block: Record<string, unknown> = backend === "neo4j"
    ? {
      backend: "neo4j",
      url: NEO4J_URL,
      user: NEO4J_USER,
      password: NEO4J_PASSWORD,
      queryTimeout: "60s",
    }
    : { backend: "memory" };
  const server = await serve({
    ...block,
    labels: [label],
    relationships: [type],
    maxBatchSize: CHUNK,
    maxResults: LIMIT,
  });
  const direct = backend === "neo4j"
    ? neo4j.driver(NEO4J_URL, neo4j.auth.basic(NEO4J_USER, NEO4J_PASSWORD))
    : undefined;
  try {
    const rate = await load(server.base, label, type, graph);
    console.log(
      `\n${backend}: ${NODES} nodes + ${EDGES} edges loaded via POST /batch at ${
        rate.toFixed(0)
      } items/s`,
    );

    const random = mulberry32(7);
    const starts = Array.from({ length: 4096 }, () => graph.ids[Math.floor(random() * NODES)]!);
    const pairs = Array.from({ length: 4096 }, () =>
      [
        graph.ids[Math.floor(random() * NODES)]!,
        graph.ids[Math.floor(random() * NODES)]!,
      ] as const);
    const at = <T>(list: readonly T[], i: number) => list[i % list.length]!;
    const quoted = { label: `\`${label}\``, type: `\`${type}\`` };
    const cypherNeighbors = neighborsQuery(quoted.label, {
      type: quoted.type,
      direction: "out",
      depth: DEPTH,
    });
    const cypherPath = pathQuery(quoted.label, quoted.label, {
      type: quoted.type,
      direction: "out",
      depth: PATH_DEPTH,
    });
    const session = <T>(work: (tx: ManagedTransaction) => Promise<T>) => {
      const s = direct!.session({ database: "neo4j", defaultAccessMode: neo4j.session.READ });
      return s.executeRead(work).finally(() => s.close());
    };

    const neighborsPath = (i: number) =>
      `/v1/graph/nodes/${label}/${
        at(starts, i)
      }/neighbors?type=${type}&depth=${DEPTH}&limit=${LIMIT}`;
    const pathPath = (i: number) => {
      const [from, to] = at(pairs, i);
      return `/v1/graph/path?from=${label}:${from}&to=${label}:${to}&type=${type}&maxDepth=${PATH_DEPTH}`;
    };
    const queries: {
      name: string;
      driver: Ask;
      http: Ask;
      path: (i: number) => string;
      notFoundIsAnswer: boolean;
    }[] = [
      {
        name: `neighbors depth ${DEPTH}`,
        path: neighborsPath,
        notFoundIsAnswer: false,
        driver: direct
          ? (i) =>
            session(async (tx) =>
              (await tx.run(cypherNeighbors, { id: at(starts, i), limit: neo4j.int(LIMIT + 1) }))
                .records.length
            )
          : async (i) =>
            (await server.driver.neighbors({ label, id: at(starts, i) }, {
              type,
              direction: "out",
              depth: DEPTH,
              limit: LIMIT,
            }))!.neighbors.length,
        http: async (i) => {
          const body = await getJson(`${server.origin}${neighborsPath(i)}`);
          return (body!.neighbors as unknown[]).length;
        },
      },
      {
        name: "shortest path",
        path: pathPath,
        notFoundIsAnswer: true,
        driver: direct
          ? (i) =>
            session(async (tx) => {
              const [from, to] = at(pairs, i);
              const record = (await tx.run(cypherPath, { from, to })).records[0];
              const path = record?.get("p") as Path | null;
              return path ? path.length + 1 : 0;
            })
          : async (i) => {
            const [from, to] = at(pairs, i);
            const path = await server.driver.shortestPath({ label, id: from }, {
              label,
              id: to,
            }, { type, direction: "out", maxDepth: PATH_DEPTH });
            return path ? path.nodes.length : 0;
          },
        http: async (i) => {
          const body = await getJson(`${server.origin}${pathPath(i)}`);
          return body ? (body.nodes as unknown[]).length : 0;
        },
      },
    ];

    const perRound = SECONDS / ROUNDS;
    const paths = (q: (typeof queries)[number]) =>
      Array.from({ length: 2_000 }, (_, i) => q.path(i));
    console.log(
      `  ${"query".padEnd(20)} ${"via".padEnd(7)} ${"n".padStart(6)} ${"mean".padStart(9)} ${
        "p50".padStart(9)
      } ${"p99".padStart(9)}`,
    );
    for (const q of queries) {
      // In-process through the whole app (routing, validation, driver, JSON), no network.
      const app: Ask = async (i) => (await (await server.app.request(q.path(i))).text()).length;
      await timeTurns([q.driver, app], 1); // warm-up: JIT, query plans, connection pools
      if (wrk) await wrkBlock(server.origin, paths(q), 1, q.notFoundIsAnswer);
      else await timeTurns([q.http], 1);
      const driverRounds: Summary[] = [];
      const appRounds: Summary[] = [];
      const httpRounds: Summary[] = [];
      let avgSize = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const [direct, inProcess] = await timeTurns([q.driver, app], perRound);
        avgSize = direct!.avgSize;
        driverRounds.push(direct!);
        appRounds.push(inProcess!);
        httpRounds.push(
          wrk
            ? await wrkBlock(server.origin, paths(q), perRound, q.notFoundIsAnswer)
            : (await timeTurns([q.http], perRound))[0]!,
        );
      }
      const driver = combine(driverRounds);
      const inApp = combine(appRounds);
      const http = combine(httpRounds);
      const line = (via: string, s: Summary) =>
        console.log(
          `  ${q.name.padEnd(20)} ${via.padEnd(7)} ${String(s.n).padStart(6)} ${
            s.mean.toFixed(2).padStart(7)
          }ms ${s.p50.toFixed(2).padStart(7)}ms ${s.p99.toFixed(2).padStart(7)}ms`,
        );
      line("driver", driver);
      line("app", inApp);
      line("http", http);
      const ratio = (name: string, s: Summary) =>
        console.log(
          `  ${"".padEnd(20)} ${name}/driver: mean x${(s.mean / driver.mean).toFixed(3)}, p50 x${
            (s.p50 / driver.p50).toFixed(3)
          }, p99 x${(s.p99 / driver.p99).toFixed(3)} (overhead at p50 ${
            ((s.p50 / driver.p50 - 1) * 100).toFixed(1)
          }%)`,
        );
      ratio("app", inApp);
      ratio("http", http);
      console.log(`  ${"".padEnd(20)} answers average ${avgSize.toFixed(0)} nodes`);
    }
  } finally {
    await server.close();
    if (direct) {
      const s = direct.session({ database: "neo4j" });
      try {
        await s.run(
          `MATCH (n:\`${label}\`) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS`,
        );
        await s.run(`DROP CONSTRAINT ${constraintName(label)} IF EXISTS`);
        await s.run("MATCH (l:_EdgeboxCycleLock {type: $type}) DELETE l", { type });
      } finally {
        await s.close();
        await direct.close();
      }
    }
  }
}

const wrk = await haveWrk();
console.log(
  `graph bench: ${NODES} nodes, ${EDGES} edges, ${SECONDS}s per target in ${ROUNDS} rounds ` +
    `(medians over rounds), one request in flight; neighbors out to depth ${DEPTH} ` +
    `(limit ${LIMIT}), paths up to ${PATH_DEPTH} hops; HTTP load from ${
      wrk ? "wrk" : "fetch in-process"
    }`,
);
for (const backend of BACKENDS) {
  if (backend === "neo4j" && !(await reachable(NEO4J_URL))) {
    console.log(`\nneo4j: skipped (${NEO4J_URL} unreachable)`);
    continue;
  }
  await bench(backend, wrk);
}
