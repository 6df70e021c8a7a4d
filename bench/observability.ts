/**
 * `deno run -A bench/observability.ts`: what observability costs. Serves `GET /health` (no
 * plugin involved) and a memory-cache `GET /v1/cache/keys/bench` (a plugin route and its
 * instrumented driver: a server span plus a `cache.get` child span when traced) three ways in
 * the same run, each in its own `edgebox serve` process:
 *
 * - `off`: no observability plugin (the core records into its no-op metrics),
 * - `metrics`: Prometheus metrics on (prom-client registry, process metrics, lag sampler),
 * - `metrics+tracing`: metrics plus OpenTelemetry tracing at sampleRatio 1.0, exporting to an
 *   OTLP/HTTP receiver this process runs (it answers 200 and counts the spans).
 *
 * Prints req/s, p99 and the target's CPU time per request for each variant and route, and two
 * ratios to `off`: throughput (req/s) and capacity (CPU per request of `off` over the variant's,
 * the throughput a CPU-bound server would keep). On a shared, noisy machine throughput swings
 * between rounds far more than CPU per request does. Targets: metrics >= 0.95, metrics+tracing
 * (sampleRatio 1.0, /health traced too) >= 0.85. The access log is on in every variant, as by
 * default. Load comes from wrk when installed, else autocannon. Tune with BENCH_DURATION
 * (seconds per measurement, default 5), BENCH_CONNECTIONS (default 50) and BENCH_ROUNDS
 * (default 3; variants are interleaved per round and the median is reported).
 *
 * Targets are spawned as `deno run -A main.ts serve --config <tmp> --port N` once
 * `observability` and `cache` are built-in plugins; until then this file serves as its own
 * target (`--serve <config> --port N`): the same `serve()` main.ts calls, with the missing
 * plugins added to the registry.
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { loadConfigFile } from "../core/config.ts";
import type { PluginDefinition } from "../core/plugin.ts";
import { builtinRegistry as builtinPlugins } from "../plugins/mod.ts";
import { serve } from "../core/server.ts";
import { cachePlugin } from "../plugins/cache/mod.ts";
import { observabilityPlugin } from "../plugins/observability/mod.ts";
import {
  closedLoad,
  freePort,
  haveWrk,
  type LoadResult,
  median,
  medianResult,
  withServer,
} from "./_load.ts";

/** One measurement of one route on one variant. */
interface Result extends LoadResult {
  /** CPU time the target spent per request (user + system, every thread), in microseconds. */
  cpuUs: number;
}

const root = new URL("..", import.meta.url).pathname;
/** A liveness probe (no plugin), and a read through a plugin route and its instrumented driver. */
const ROUTES = ["/health", "/v1/cache/keys/bench"] as const;
const VARIANTS = ["off", "metrics", "metrics+tracing"] as const;
type Variant = (typeof VARIANTS)[number];

/** The config of one variant; tracing exports to `endpoint`. */
function configFor(variant: Variant, endpoint: string): string {
  const plugins: Record<string, unknown> = { cache: { backend: "memory" } };
  if (variant !== "off") {
    plugins.observability = {
      metrics: { enabled: true },
      // ignorePaths: [] traces /health too (it is skipped by default): the worst case.
      tracing: {
        enabled: variant === "metrics+tracing",
        endpoint,
        sampleRatio: 1.0,
        ignorePaths: [],
      },
    };
  }
  return stringify({ server: { host: "127.0.0.1" }, log: { level: "info" }, plugins });
}

// --- target mode: serve one variant -----------------------------------------------------------

async function serveTarget(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { serve: { type: "string" }, port: { type: "string" } },
  });
  const definitions: PluginDefinition[] = [observabilityPlugin, cachePlugin];
  const registry = new Map(builtinPlugins);
  for (const definition of definitions) {
    if (!registry.has(definition.type)) registry.set(definition.type, definition);
  }
  const config = await loadConfigFile(values.serve!, { registry });
  config.server.port = Number(values.port);
  return await serve(config, { registry, source: values.serve! });
}

// --- bench mode ------------------------------------------------------------------------------

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds a process has used (user + system, every thread), or NaN off Linux. */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // utime and stime are fields 14 and 15; the command name (field 2) may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Whether main.ts knows every plugin the bench uses (they are in plugins/mod.ts). */
function registered(): boolean {
  return builtinPlugins.has("observability") && builtinPlugins.has("cache");
}

/** A stand-in OTLP/HTTP collector: answers 200 and counts spans and export requests. */
function startReceiver() {
  const stats = { requests: 0, spans: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.text();
    stats.requests++;
    for (let at = body.indexOf('"spanId"'); at >= 0; at = body.indexOf('"spanId"', at + 1)) {
      stats.spans++;
    }
    return Response.json({});
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    stats,
    close: () => server.shutdown(),
  };
}

async function measureVariant(
  variant: Variant,
  options: { endpoint: string; seconds: number; connections: number; wrk: boolean },
): Promise<Map<string, Result>> {
  const dir = await Deno.makeTempDir({ prefix: "edgebox-bench-observability-" });
  const file = `${dir}/edgebox.yaml`;
  await Deno.writeTextFile(file, configFor(variant, options.endpoint));
  const port = freePort();
  const args = registered()
    ? ["run", "-A", `${root}main.ts`, "serve", "--config", file, "--port", String(port)]
    : ["run", "-A", `${root}bench/observability.ts`, "--serve", file, "--port", String(port)];
  const base = `http://127.0.0.1:${port}`;
  const results = new Map<string, Result>();
  try {
    // The access log is still formatted and written; only the terminal is spared.
    await withServer(
      Deno.execPath(),
      args,
      `${base}/ready`,
      { attempts: 300, watchExit: true, env: { NO_COLOR: "1" } },
      async (child) => {
        const put = await fetch(`${base}/v1/cache/keys/bench`, {
          method: "PUT",
          headers: { "content-type": "text/plain" },
          body: "a cached value of a few dozen bytes, as a session would be",
        });
        await put.body?.cancel();
        if (!put.ok) throw new Error(`Cannot seed the cache: ${put.status}`);
        for (const route of ROUTES) {
          const url = `${base}${route}`;
          await closedLoad(url, 1, options.connections, options.wrk); // warm-up: JIT
          const cpuBefore = cpuSeconds(child.pid);
          const measured = await closedLoad(url, options.seconds, options.connections, options.wrk);
          const cpu = cpuSeconds(child.pid) - cpuBefore;
          results.set(route, {
            rps: measured.rps,
            p99Ms: measured.p99Ms,
            cpuUs: cpu / measured.requests * 1e6,
          });
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return results;
}

function line(result: Result): string {
  return `${result.rps.toFixed(0).padStart(7)} req/s  p99 ${
    result.p99Ms.toFixed(2).padStart(6)
  } ms  cpu ${result.cpuUs.toFixed(1).padStart(5)} µs/req`;
}

async function bench(): Promise<void> {
  const seconds = Number(Deno.env.get("BENCH_DURATION") ?? 5);
  const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
  const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
  const wrk = await haveWrk();
  const receiver = startReceiver();
  console.log(
    `observability cost: ${ROUTES.join(" and ")}, ${connections} connections, ` +
      `${seconds}s x ${rounds} rounds, load from ${wrk ? "wrk" : "autocannon"}, targets via ${
        registered() ? "main.ts" : "bench/observability.ts --serve (not registered yet)"
      }`,
  );
  const samples = new Map<string, Result[]>();
  const key = (variant: Variant, route: string) => `${variant} ${route}`;
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const variant of VARIANTS) {
        const results = await measureVariant(variant, {
          endpoint: receiver.endpoint,
          seconds,
          connections,
          wrk,
        });
        for (const [route, result] of results) {
          const list = samples.get(key(variant, route)) ?? [];
          list.push(result);
          samples.set(key(variant, route), list);
          console.log(`  round ${round} ${variant.padEnd(16)} ${route.padEnd(21)} ${line(result)}`);
        }
      }
    }
  } finally {
    await receiver.close();
  }

  const summary = (variant: Variant, route: string): Result => {
    const results = samples.get(key(variant, route)) ?? [];
    return { ...medianResult(results), cpuUs: median(results.map((r) => r.cpuUs)) };
  };
  console.log(
    "\nmedian of rounds; throughput = req/s / off's, capacity = off's CPU per request / this one's",
  );
  for (const route of ROUTES) {
    const off = summary("off", route);
    for (const variant of VARIANTS) {
      const result = summary(variant, route);
      console.log(
        `  ${route.padEnd(21)} ${variant.padEnd(16)} ${line(result)}  throughput ${
          (result.rps / off.rps).toFixed(3)
        }  capacity ${(off.cpuUs / result.cpuUs).toFixed(3)}`,
      );
    }
  }
  console.log("\ntargets: metrics >= 0.95, metrics+tracing >= 0.85");
  for (const route of ROUTES) {
    const off = summary("off", route);
    const ratios = (variant: Variant) => {
      const result = summary(variant, route);
      return `throughput ${(result.rps / off.rps).toFixed(3)}, capacity ${
        (off.cpuUs / result.cpuUs).toFixed(3)
      }`;
    };
    console.log(
      `  ${route.padEnd(21)} metrics: ${ratios("metrics")}; metrics+tracing: ${
        ratios("metrics+tracing")
      }`,
    );
  }
  console.log(
    `OTLP receiver: ${receiver.stats.requests} exports, ${receiver.stats.spans} spans received`,
  );
}

if (Deno.args.includes("--serve")) Deno.exit(await serveTarget(Deno.args));
else await bench();
