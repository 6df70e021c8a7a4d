/**
 * `deno run -A bench/durable.ts [--json FILE]`: the durable `sqlite` backends of cache, graph and
 * messaging against their `memory` backends on the same HTTP routes, in one run. Every server is
 * a real edgebox (`main.ts serve --config`) with all three plugins on one backend, auth off, on
 * 127.0.0.1, and a fresh data directory of its own. Measured with wrk (one thread, closed loop):
 *
 * 1. `GET /v1/cache/keys/{key}` of one existing 100-byte value;
 * 2. `PUT /v1/cache/keys/{key}` of 100 bytes, a new key every request (a Lua counter), also on
 *    `durability: fsync`;
 * 3. `POST /v1/messaging/publish/{subject}` of a small JSON payload, captured by a stream whose
 *    limits are never reached (also on fsync);
 * 4. `PUT /v1/graph/nodes/{label}/{id}` with a new id every request (also on fsync);
 * 5. `GET .../neighbors?depth=5&limit=1000` from random start nodes of a generated graph
 *    (BENCH_NODES nodes, BENCH_EDGES edges, loaded through `POST /batch` into every server: its
 *    rate is shown too), with BENCH_CONNECTIONS and with one connection (p99 without queueing:
 *    in a closed loop of 50, p99 is mostly the wait behind the other 49).
 *
 * The backends are interleaved within each round (the order alternates per round) and the table
 * shows the median over rounds; a ratio is the median of the per-round ratios to `memory`, so
 * machine drift mostly cancels out. Then start-up: an sqlite edgebox is filled with
 * BENCH_STARTUP_MB of 64 KiB cache values and stopped (SIGTERM); the time from spawn to `/ready`
 * answering 200 is taken on an empty data directory and on the full one (and, for reference, on
 * the memory backends), BENCH_STARTUP_RUNS times each, median shown.
 *
 * A plugin whose sqlite backend is not registered yet (`main.ts plugins --json`) is left out.
 * `--json FILE` also writes the figures to FILE. Tune with BENCH_DURATION (seconds per
 * measurement, default 5), BENCH_WARMUP (seconds, default 1), BENCH_CONNECTIONS (default 50),
 * BENCH_ROUNDS (default 3), BENCH_NODES (default 10000), BENCH_EDGES (default 50000),
 * BENCH_STARTUP_MB (default 100), BENCH_STARTUP_RUNS (default 3; 0 skips start-up),
 * BENCH_ROUTES (route keys to load, comma-separated: cache_get, cache_put, messaging_publish,
 * graph_node_put, graph_neighbours, graph_neighbours_c1; default all). Timings are never
 * asserted: the targets are reported, met or not.
 */
import { freePort, haveWrk, type LoadResult, median, roundRow, runWrk } from "./_load.ts";

const num = (name: string, fallback: number) => Number(Deno.env.get(name) ?? fallback);
const DURATION = num("BENCH_DURATION", 5);
const WARMUP = num("BENCH_WARMUP", 1);
const CONNECTIONS = num("BENCH_CONNECTIONS", 50);
const ROUNDS = num("BENCH_ROUNDS", 3);
const NODES = num("BENCH_NODES", 10_000);
const EDGES = num("BENCH_EDGES", 50_000);
const STARTUP_MB = num("BENCH_STARTUP_MB", 100);
const STARTUP_RUNS = num("BENCH_STARTUP_RUNS", 3);
/** Route keys to load (see ROUTES), comma-separated; all when unset. */
const ONLY = Deno.env.get("BENCH_ROUTES")?.split(",").map((key) => key.trim());

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const LABEL = "Bench";
const TYPE = "DEP";
const DEPTH = 5;
const LIMIT = 1_000;
const CHUNK = 5_000;
const VALUE_SIZE = 100;
const BIG_VALUE = 64 * 1024;

type Plugin = "cache" | "graph" | "messaging";
type Variant = "memory" | "sqlite" | "sqlite fsync";
const VARIANTS: readonly Variant[] = ["memory", "sqlite", "sqlite fsync"];
const WRITES: readonly Variant[] = VARIANTS;
const READS: readonly Variant[] = ["memory", "sqlite"];

/** What a route should reach, on one backend. */
type Target =
  | { variant: Variant; minRatio: number }
  | { variant: Variant; maxP99Ms: number };

/** One route under load: what wrk requests, on which backends, and its target. */
interface Route {
  /** Its name in the JSON output. */
  key: string;
  /** Its name in the table. */
  name: string;
  plugin: Plugin;
  variants: readonly Variant[];
  target?: Target;
  /** wrk's connections (default BENCH_CONNECTIONS). */
  connections?: number;
  /** The path wrk loads and the Lua script making its requests (none: a plain GET); `run` is unique per wrk run. */
  load(run: string): { path: string; lua?: string };
}

// ---------------------------------------------------------------------------------------------
// Lua scripts for wrk

/** A Lua string literal (JSON's escapes of ASCII text are Lua's too). */
const lua = (text: string) => JSON.stringify(text);

/** Requests `method` with `body` to `prefix` + 1, 2, 3...: a new key or id every request. */
function counterScript(method: string, prefix: string, body: string, contentType: string): string {
  return [
    `wrk.method = ${lua(method)}`,
    `wrk.body = ${lua(body)}`,
    `wrk.headers["Content-Type"] = ${lua(contentType)}`,
    "local i = 0",
    "request = function()",
    "  i = i + 1",
    `  return wrk.format(nil, ${lua(prefix)} .. i)`,
    "end",
  ].join("\n");
}

/** Sends `body` with `method` to the path wrk was given, every request alike. */
function fixedScript(method: string, body: string, contentType: string): string {
  return [
    `wrk.method = ${lua(method)}`,
    `wrk.body = ${lua(body)}`,
    `wrk.headers["Content-Type"] = ${lua(contentType)}`,
  ].join("\n");
}

/** GETs the neighbours of random generated nodes (the same sequence on every server). */
function neighboursScript(): string {
  const query = `/neighbors?type=${TYPE}&direction=out&depth=${DEPTH}&limit=${LIMIT}`;
  return [
    "math.randomseed(7)",
    "request = function()",
    `  local id = "n" .. math.random(0, ${NODES - 1})`,
    `  return wrk.format("GET", "/v1/graph/nodes/${LABEL}/" .. id .. ${lua(query)})`,
    "end",
  ].join("\n");
}

const GET_KEY = "bench-get";

const ROUTES: Route[] = [
  {
    key: "cache_get",
    name: `cache GET ${VALUE_SIZE} B`,
    plugin: "cache",
    variants: READS,
    target: { variant: "sqlite", minRatio: 0.9 },
    load: () => ({ path: `/v1/cache/keys/${GET_KEY}` }),
  },
  {
    key: "cache_put",
    name: `cache PUT ${VALUE_SIZE} B`,
    plugin: "cache",
    variants: WRITES,
    target: { variant: "sqlite", minRatio: 0.5 },
    load: (run) => ({
      path: "/v1/cache/keys/",
      lua: counterScript(
        "PUT",
        `/v1/cache/keys/${run}-`,
        "v".repeat(VALUE_SIZE),
        "application/octet-stream",
      ),
    }),
  },
  {
    key: "messaging_publish",
    name: "messaging publish",
    plugin: "messaging",
    variants: WRITES,
    target: { variant: "sqlite", minRatio: 0.5 },
    load: () => ({
      path: "/v1/messaging/publish/bench.events",
      lua: fixedScript("POST", '{"event":"bench","n":1}', "application/json"),
    }),
  },
  {
    key: "graph_node_put",
    name: "graph node PUT",
    plugin: "graph",
    variants: WRITES,
    load: (run) => ({
      path: `/v1/graph/nodes/${LABEL}/`,
      lua: counterScript(
        "PUT",
        `/v1/graph/nodes/${LABEL}/${run}-`,
        '{"title":"bench node","rank":1}',
        "application/json",
      ),
    }),
  },
  // One request in flight: p99 without queueing (run first: the closed loop of 50 below leaves
  // a backlog the server works through after wrk stops).
  {
    key: "graph_neighbours_c1",
    name: `graph ${DEPTH}-hop nbrs c1`,
    plugin: "graph",
    variants: READS,
    target: { variant: "sqlite", maxP99Ms: 50 },
    connections: 1,
    load: () => ({ path: `/v1/graph/nodes/${LABEL}/n0/neighbors`, lua: neighboursScript() }),
  },
  // 50 in flight: throughput, and a p99 that is mostly the wait behind the other 49.
  {
    key: "graph_neighbours",
    name: `graph ${DEPTH}-hop nbrs`,
    plugin: "graph",
    variants: READS,
    target: { variant: "sqlite", maxP99Ms: 50 },
    load: () => ({ path: `/v1/graph/nodes/${LABEL}/n0/neighbors`, lua: neighboursScript() }),
  },
];

// ---------------------------------------------------------------------------------------------
// Edgebox servers

/** The plugin blocks of every server: limits far above what the bench writes. */
function pluginBlocks(variant: Variant, plugins: ReadonlySet<Plugin>): Record<string, unknown> {
  const backend = variant === "memory"
    ? { backend: "memory" }
    : { backend: "sqlite", durability: variant === "sqlite fsync" ? "fsync" : "normal" };
  const blocks: Record<Plugin, Record<string, unknown>> = {
    cache: { ...backend, maxEntries: 10_000_000, maxBytes: "1GiB", maxValueSize: "1MiB" },
    graph: {
      ...backend,
      labels: [LABEL],
      relationships: [TYPE],
      maxDepth: DEPTH,
      maxResults: LIMIT,
      maxBatchSize: CHUNK,
      bodyLimit: "64MiB",
    },
    messaging: {
      ...backend,
      maxTotalBytes: "2GiB",
      streams: [{
        name: "bench",
        subjects: ["bench.>"],
        maxMsgs: 100_000_000,
        maxBytes: "2GiB",
      }],
    },
  };
  return Object.fromEntries([...plugins].map((plugin) => [plugin, blocks[plugin]]));
}

/** A running edgebox. */
interface Edgebox {
  origin: string;
  /** Milliseconds from spawn to `/ready` answering 200. */
  readyMs: number;
  /** Its data directory. */
  dataDir: string;
  /** Its log file (JSON lines). */
  log: string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

let serverCount = 0;

/** The last lines of a log file, for an error message. */
async function tail(file: string, lines = 20): Promise<string> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Polls `url` every 10 ms until it answers 200; throws once `child` exits or after a minute. */
async function untilReady(url: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = performance.now() + 60_000;
  while (!exited && performance.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url} never answered 200${exited ? " (edgebox exited)" : ""}`);
}

/**
 * Writes a config into a directory of its own under `work` and starts edgebox on it, its log in
 * `edgebox.log` there; `dataDir` defaults to a fresh `data/` beside them.
 */
async function startEdgebox(
  work: string,
  plugins: Record<string, unknown>,
  dataDir?: string,
): Promise<Edgebox> {
  const dir = `${work}/server-${++serverCount}`;
  await Deno.mkdir(dir, { recursive: true });
  const port = freePort();
  const data = dataDir ?? `${dir}/data`;
  const config = {
    server: { host: "127.0.0.1", port, dataDir: data, bodyLimit: "64MiB" },
    auth: { mode: "none" },
    plugins,
  };
  await Deno.writeTextFile(`${dir}/edgebox.yaml`, JSON.stringify(config, null, 2));
  const log = await Deno.open(`${dir}/edgebox.log`, { write: true, create: true, truncate: true });
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--config", `${dir}/edgebox.yaml`],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const logged = child.stderr.pipeTo(log.writable);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await logged;
  };
  const origin = `http://127.0.0.1:${port}`;
  try {
    await untilReady(`${origin}/ready`, child);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log:\n${await tail(`${dir}/edgebox.log`)}`);
  }
  return {
    origin,
    readyMs: performance.now() - started,
    dataDir: data,
    log: `${dir}/edgebox.log`,
    stop,
  };
}

/** Sends a request and fails unless it answers 2xx; returns the body. */
async function send(url: string, init: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${init.method ?? "GET"} ${url}: ${response.status} ${text.slice(0, 300)}`);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Data

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

/** A seeded random directed graph: distinct edges between `n0`..`n<nodes-1>`, no self-loops. */
function generateEdges(nodes: number, edges: number): [number, number][] {
  const random = mulberry32(42);
  const seen = new Set<number>();
  const result: [number, number][] = [];
  while (result.length < edges) {
    const a = Math.floor(random() * nodes);
    const b = Math.floor(random() * nodes);
    if (a === b || seen.has(a * nodes + b)) continue;
    seen.add(a * nodes + b);
    result.push([a, b]);
  }
  return result;
}

const GRAPH_EDGES = generateEdges(NODES, EDGES);

/** Loads the generated graph through `POST /batch` in chunks; returns items per second. */
async function loadGraph(origin: string): Promise<number> {
  const post = (items: unknown[]) =>
    send(`${origin}/v1/graph/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items }),
    });
  const started = performance.now();
  for (let i = 0; i < NODES; i += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, NODES - i) }, (_, k) => i + k);
    await post(ids.map((n) => ({
      op: "node",
      label: LABEL,
      id: `n${n}`,
      properties: { title: `Node n${n}`, rank: n },
    })));
  }
  for (let i = 0; i < GRAPH_EDGES.length; i += CHUNK) {
    await post(
      GRAPH_EDGES.slice(i, i + CHUNK).map(([a, b]) => ({
        op: "edge",
        from: { label: LABEL, id: `n${a}` },
        type: TYPE,
        to: { label: LABEL, id: `n${b}` },
      })),
    );
  }
  return (NODES + GRAPH_EDGES.length) / ((performance.now() - started) / 1000);
}

/** Stores `count` values of `size` random bytes as `big-0`.. with `parallel` PUTs at a time. */
async function fillCache(origin: string, count: number, size: number, parallel = 8) {
  let next = 0;
  const worker = async () => {
    const value = new Uint8Array(size);
    while (next < count) {
      const i = next++;
      crypto.getRandomValues(value.subarray(0, Math.min(size, 65_536)));
      await send(`${origin}/v1/cache/keys/big-${i}`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: value,
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Bytes of the files directly in `dir`. */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Load rounds

/**
 * One wrk run on `origin` + the route's path for `seconds`; throws on any failed request, and
 * when none completed unless `warmUp` (slow routes may finish none in a short warm-up).
 */
async function wrkRoute(
  origin: string,
  route: Route,
  seconds: number,
  scripts: string,
  warmUp = false,
): Promise<LoadResult> {
  const { path, lua } = route.load(crypto.randomUUID().slice(0, 8));
  let script: string | undefined;
  if (lua) {
    script = `${scripts}/${route.key}.lua`;
    await Deno.writeTextFile(script, lua);
  }
  const report = await runWrk(`${origin}${path}`, {
    connections: route.connections ?? CONNECTIONS,
    seconds,
    ...(script ? { script } : {}),
  });
  if (!report.success || !(warmUp || report.requests > 0)) {
    throw new Error(`wrk on ${route.name} failed: ${report.stderr}${report.stdout}`);
  }
  if (report.non2xx) throw new Error(`${route.name} answered errors under load:\n${report.stdout}`);
  return { rps: report.rps, p99Ms: report.p99Ms };
}

/** Figures of each route and backend, one per round. */
type Samples = Map<string, LoadResult[]>;
const sampleKey = (route: string, variant: Variant) => `${route}|${variant}`;

function record(samples: Samples, route: string, variant: Variant, result: LoadResult): void {
  const key = sampleKey(route, variant);
  samples.set(key, [...(samples.get(key) ?? []), result]);
}

/** Starts one server of `variant`, seeds it, loads every route it runs, stops it. */
async function measureServer(
  work: string,
  variant: Variant,
  round: number,
  routes: Route[],
  plugins: ReadonlySet<Plugin>,
  samples: Samples,
): Promise<void> {
  const mine = routes.filter((r) => r.variants.includes(variant));
  if (mine.length === 0) return;
  const server = await startEdgebox(work, pluginBlocks(variant, plugins));
  try {
    if (mine.some((r) => r.key === "cache_get")) {
      await send(`${server.origin}/v1/cache/keys/${GET_KEY}`, {
        method: "PUT",
        body: "g".repeat(VALUE_SIZE),
      });
    }
    if (mine.some((r) => r.key.startsWith("graph_neighbours"))) {
      const rate = await loadGraph(server.origin);
      const result = { rps: rate, p99Ms: NaN };
      record(samples, "graph_load", variant, result);
      console.log(`${roundRow(round, `${variant} graph load`, result)} (items/s, POST /batch)`);
    }
    for (const route of mine) {
      if (WARMUP > 0) await wrkRoute(server.origin, route, WARMUP, work, true);
      const result = await wrkRoute(server.origin, route, DURATION, work);
      record(samples, route.key, variant, result);
      console.log(roundRow(round, `${variant} ${route.name}`.slice(0, 34).padEnd(34), result));
    }
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up

/** One start-up: spawn to `/ready`, and the cache plugin's own start as it logged it (ms). */
interface Startup {
  readyMs: number;
  cacheMs: number;
}

/** Start-ups of each case, one per run. */
type Startups = Record<string, Startup[]>;

/** The `ms` of the `plugin started` line the cache instance logged; NaN when there is none. */
async function cacheStartMs(log: string): Promise<number> {
  for (const line of (await Deno.readTextFile(log)).split("\n")) {
    if (!line.includes('"plugin started"')) continue;
    const entry = JSON.parse(line) as { plugin?: string; ms?: number };
    if (entry.plugin === "cache") return entry.ms ?? NaN;
  }
  return NaN;
}

/** Fills a data directory with about `STARTUP_MB` MB of cache values; returns it and its size. */
async function buildFullDataDir(
  work: string,
  plugins: ReadonlySet<Plugin>,
): Promise<{ dir: string; bytes: number; count: number }> {
  const dir = `${work}/full-data`;
  const count = Math.ceil(STARTUP_MB * 1_000_000 / BIG_VALUE);
  const server = await startEdgebox(work, pluginBlocks("sqlite", plugins), dir);
  const started = performance.now();
  try {
    await fillCache(server.origin, count, BIG_VALUE);
  } finally {
    await server.stop();
  }
  const bytes = await dirBytes(dir);
  console.log(
    `  ${count} values of ${BIG_VALUE} B stored in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s; data directory after stop: ${(bytes / 1e6).toFixed(1)} MB`,
  );
  return { dir, bytes, count };
}

/**
 * Spawns edgebox until `/ready`, checks one stored value when `check` names one, stops it;
 * returns its start-up figures.
 */
async function timeStart(
  work: string,
  plugins: Record<string, unknown>,
  dataDir?: string,
  check?: string,
): Promise<Startup> {
  const server = await startEdgebox(work, plugins, dataDir);
  try {
    if (check) {
      const response = await fetch(`${server.origin}/v1/cache/keys/${check}`);
      const bytes = (await response.arrayBuffer()).byteLength;
      if (response.status !== 200 || bytes !== BIG_VALUE) {
        throw new Error(`after start-up, ${check} answered ${response.status} with ${bytes} B`);
      }
    }
  } finally {
    await server.stop();
    if (!dataDir) await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  // Read once edgebox has exited: its last lines are on disk by then.
  return { readyMs: server.readyMs, cacheMs: await cacheStartMs(server.log) };
}

/** Times start-up on the memory backends, an empty sqlite data directory and a full one. */
async function measureStartups(work: string, plugins: ReadonlySet<Plugin>): Promise<{
  times: Startups;
  bytes: number;
}> {
  console.log(`\nstart-up: filling an sqlite data directory with ~${STARTUP_MB} MB`);
  const full = await buildFullDataDir(work, plugins);
  const times: Startups = { "memory (ref)": [], "sqlite empty": [], "sqlite full": [] };
  for (let run = 1; run <= STARTUP_RUNS; run++) {
    times["memory (ref)"]!.push(await timeStart(work, pluginBlocks("memory", plugins)));
    times["sqlite empty"]!.push(await timeStart(work, pluginBlocks("sqlite", plugins)));
    times["sqlite full"]!.push(
      await timeStart(work, pluginBlocks("sqlite", plugins), full.dir, `big-${full.count - 1}`),
    );
    console.log(
      `  run ${run}: ${
        Object.entries(times).map(([name, t]) =>
          `${name} ${t.at(-1)!.readyMs.toFixed(0)} ms (cache ${t.at(-1)!.cacheMs} ms)`
        ).join(", ")
      }`,
    );
  }
  return { times, bytes: full.bytes };
}

// ---------------------------------------------------------------------------------------------
// Report

/** One row of the table (and of the JSON output). */
interface Row {
  route: string;
  backend: string;
  rps: number;
  p99Ms: number;
  /** Median of per-round throughput ratios to memory. */
  ratio?: number;
  /** Start-up time, median, in milliseconds. */
  startMs?: number;
  target?: string;
  met?: boolean;
  /** Shown after the target. */
  note?: string;
}

/** The median of per-round ratios of `variant` to memory on `key`. */
function ratioToMemory(samples: Samples, key: string, variant: Variant): number {
  const mine = samples.get(sampleKey(key, variant)) ?? [];
  const base = samples.get(sampleKey(key, "memory")) ?? [];
  return median(mine.map((r, i) => r.rps / (base[i]?.rps ?? NaN)));
}

function loadRows(routes: Route[], samples: Samples): Row[] {
  const rows: Row[] = [];
  const all: { key: string; name: string; variants: readonly Variant[]; target?: Target }[] = [
    ...routes,
  ];
  if (routes.some((r) => r.key.startsWith("graph_neighbours"))) {
    all.push({ key: "graph_load", name: "graph batch load (items/s)", variants: READS });
  }
  for (const route of all) {
    for (const variant of route.variants) {
      const results = samples.get(sampleKey(route.key, variant));
      if (!results) continue;
      const row: Row = {
        route: route.name,
        backend: variant,
        rps: median(results.map((r) => r.rps)),
        p99Ms: median(results.map((r) => r.p99Ms)),
      };
      if (variant !== "memory") row.ratio = ratioToMemory(samples, route.key, variant);
      const target = route.target;
      if (target?.variant === variant) {
        if ("minRatio" in target) {
          row.target = `ratio >= ${target.minRatio}`;
          row.met = row.ratio! >= target.minRatio;
        } else {
          row.target = `p99 < ${target.maxP99Ms} ms`;
          row.met = row.p99Ms < target.maxP99Ms;
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

function startupRows(times: Startups, bytes: number): Row[] {
  const emptyMs = median((times["sqlite empty"] ?? []).map((r) => r.readyMs));
  return Object.entries(times).map(([name, runs]) => {
    const row: Row = {
      route: "start-up to /ready",
      backend: name === "sqlite full" ? `sqlite ${(bytes / 1e6).toFixed(0)} MB` : name,
      rps: NaN,
      p99Ms: NaN,
      startMs: median(runs.map((r) => r.readyMs)),
      note: `cache plugin start ${median(runs.map((r) => r.cacheMs)).toFixed(0)} ms`,
    };
    if (name === "sqlite full") {
      row.target = "< 1000 ms";
      row.met = row.startMs! < 1000;
      row.note += `, +${(row.startMs! - emptyMs).toFixed(0)} ms over empty`;
    }
    return row;
  });
}

const fixed = (value: number | undefined, digits: number, width: number) =>
  (value === undefined || Number.isNaN(value) ? "" : value.toFixed(digits)).padStart(width);

function printTable(rows: Row[]): void {
  console.log(
    `\n${"route".padEnd(27)} ${"backend".padEnd(14)} ${"req/s".padStart(8)} ${
      "p99 ms".padStart(8)
    } ${"/memory".padStart(7)} ${"start ms".padStart(8)}  target`,
  );
  let previous = "";
  for (const row of rows) {
    const met = row.met === undefined ? "" : row.met ? "  met" : "  NOT met";
    console.log(
      `${(row.route === previous ? "" : row.route).padEnd(27)} ${row.backend.padEnd(14)} ${
        fixed(row.rps, 0, 8)
      } ${fixed(row.p99Ms, 2, 8)} ${fixed(row.ratio, 3, 7)} ${fixed(row.startMs, 0, 8)}  ${
        row.target ?? ""
      }${met}${row.note ? `  (${row.note})` : ""}`,
    );
    previous = row.route;
  }
}

// ---------------------------------------------------------------------------------------------
// Main

/** The plugins whose sqlite backend is registered. */
async function sqlitePlugins(): Promise<Set<Plugin>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "plugins", "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`main.ts plugins failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const list = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    type: string;
    backends: string[];
  }[];
  const wanted: Plugin[] = ["cache", "graph", "messaging"];
  return new Set(
    wanted.filter((type) => list.some((p) => p.type === type && p.backends.includes("sqlite"))),
  );
}

function jsonFlag(): string | undefined {
  const at = Deno.args.indexOf("--json");
  if (at < 0) return undefined;
  const file = Deno.args[at + 1];
  if (!file) throw new Error("--json needs a file name");
  return file;
}

async function main(): Promise<void> {
  const jsonFile = jsonFlag();
  if (!(await haveWrk())) throw new Error("wrk is not installed (apt-get install -y wrk)");
  const plugins = await sqlitePlugins();
  const missing = ["cache", "graph", "messaging"].filter((p) => !plugins.has(p as Plugin));
  if (missing.length) console.log(`no sqlite backend yet, left out: ${missing.join(", ")}`);
  const routes = ROUTES.filter((r) => plugins.has(r.plugin) && (ONLY?.includes(r.key) ?? true));
  console.log(
    `wrk -t1 -c${CONNECTIONS}, ${WARMUP}s warm-up + ${DURATION}s per measurement, ${ROUNDS} ` +
      `round(s); graph ${NODES} nodes / ${EDGES} edges`,
  );
  const work = await Deno.makeTempDir({ prefix: "edgebox-bench-durable-" });
  try {
    const samples: Samples = new Map();
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
      for (const variant of order) {
        await measureServer(work, variant, round, routes, plugins, samples);
      }
    }
    const startup = plugins.has("cache") && STARTUP_RUNS > 0
      ? await measureStartups(work, plugins)
      : { times: {}, bytes: 0 };
    const rows = [...loadRows(routes, samples), ...startupRows(startup.times, startup.bytes)];
    printTable(rows);
    if (jsonFile) {
      const settings = { DURATION, WARMUP, CONNECTIONS, ROUNDS, NODES, EDGES, STARTUP_MB };
      const parent = jsonFile.includes("/") ? jsonFile.slice(0, jsonFile.lastIndexOf("/")) : ".";
      await Deno.mkdir(parent, { recursive: true });
      await Deno.writeTextFile(
        jsonFile,
        JSON.stringify({ date: new Date().toISOString(), settings, rows }, null, 2) + "\n",
      );
      console.log(`\nwrote ${jsonFile}`);
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

await main();
