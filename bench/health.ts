/**
 * `deno task bench`: load-tests `GET /health` of edgebox (built-in config, all default
 * middleware on) against a bare `Deno.serve` handler and a bare Hono app, in the same run, and
 * prints req/s, p99 latency and the ratios to the baselines. Two more rows put the figures in
 * context: `Deno.serve +id`, a handler doing the least every request needs under edgebox's HTTP
 * conventions (read the path and `X-Request-Id`, echo an id: see bench/targets/bare_deno.ts),
 * and edgebox on `GET /v1/echo`, a plugin route that also passes the auth
 * check, the availability gate and writes an access log line (the probes write none by default,
 * see `log.skipPaths`).
 *
 * Load comes from wrk when installed, else autocannon from npm (run with Node). Tune with
 * BENCH_DURATION (seconds, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3;
 * targets are interleaved per round and the median is reported, to even out machine noise).
 */

import {
  closedLoad,
  freePort,
  haveWrk,
  type LoadResult,
  medianResult,
  resultRow,
  roundRow,
  withServer,
} from "./_load.ts";

const duration = Number(Deno.env.get("BENCH_DURATION") ?? 10);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const root = new URL("..", import.meta.url).pathname;

const bareDeno = ["run", "--allow-net", `${root}bench/targets/bare_deno.ts`];
const edgebox = ["run", "--allow-all", `${root}main.ts`, "serve", "--port"];
const targets: { name: string; args: string[]; path: string; flags?: string[] }[] = [
  { name: "bare Deno.serve", args: bareDeno, path: "/health" },
  { name: "Deno.serve +id", args: bareDeno, path: "/health", flags: ["--request-id"] }, // path + id in, id out
  {
    name: "bare Hono",
    args: ["run", "--allow-net", `${root}bench/targets/bare_hono.ts`],
    path: "/health",
  },
  { name: "edgebox", args: edgebox, path: "/health" },
  { name: "edgebox /v1/echo", args: edgebox, path: "/v1/echo" },
];

async function measure(target: (typeof targets)[number], wrk: boolean): Promise<LoadResult> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}${target.path}`;
  return await withServer(
    Deno.execPath(),
    [...target.args, String(port), ...(target.flags ?? [])],
    url,
    // edgebox still formats and writes its log lines; only the terminal is spared
    { env: { NO_COLOR: "1" } },
    async () => {
      await closedLoad(url, 2, connections, wrk); // warm-up: JIT and connection pools
      return await closedLoad(url, duration, connections, wrk);
    },
  );
}

const wrk = await haveWrk();
console.log(
  `GET /health, ${connections} connections, ${duration}s x ${rounds} rounds, load from ${
    wrk ? "wrk" : "autocannon"
  }`,
);
const samples = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]));
for (let round = 1; round <= rounds; round++) {
  for (const target of targets) {
    const result = await measure(target, wrk);
    samples.get(target.name)!.push(result);
    console.log(roundRow(round, target.name, result));
  }
}
const summary = new Map([...samples].map(([name, results]) => [name, medianResult(results)]));
const deno = summary.get("bare Deno.serve")!;
const hono = summary.get("bare Hono")!;
console.log("\nmedian of rounds:");
for (const [name, result] of summary) {
  console.log(
    `${resultRow(name, result)}  ` +
      `${(result.rps / deno.rps * 100).toFixed(1).padStart(5)}% of Deno.serve  ${
        (result.rps / hono.rps * 100).toFixed(1).padStart(5)
      }% of Hono`,
  );
}
const health = summary.get("edgebox")!;
const sameHeaders = summary.get("Deno.serve +id")!;
console.log(
  `\nedgebox /health / Deno.serve throughput ratio: ${(health.rps / deno.rps).toFixed(3)}` +
    ` (target >= 0.80); / Deno.serve +id (path and request id in, id out): ${
      (health.rps / sameHeaders.rps).toFixed(3)
    }`,
);
