/**
 * `deno task bench`: load-tests `GET /health` of edgebox (all default middleware on, access
 * log included) against a bare `Deno.serve` handler and a bare Hono app, in the same run, and
 * prints req/s, p99 latency and the ratios to the baselines.
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

const targets: { name: string; args: string[] }[] = [
  { name: "bare Deno.serve", args: ["run", "--allow-net", `${root}bench/targets/bare_deno.ts`] },
  { name: "bare Hono", args: ["run", "--allow-net", `${root}bench/targets/bare_hono.ts`] },
  { name: "edgebox", args: ["run", "--allow-all", `${root}main.ts`, "serve", "--port"] },
];

async function measure(target: (typeof targets)[number], wrk: boolean): Promise<LoadResult> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/health`;
  return await withServer(
    Deno.execPath(),
    [...target.args, String(port)],
    url,
    // edgebox still formats and writes its access log; only the terminal is spared
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
const edgebox = summary.get("edgebox")!;
console.log(
  `\nedgebox / Deno.serve throughput ratio: ${
    (edgebox.rps / deno.rps).toFixed(3)
  } (target >= 0.80)`,
);
