/**
 * `deno task bench`: load-tests `GET /health` of edgebox (all default middleware on, access
 * log included) against a bare `Deno.serve` handler and a bare Hono app, in the same run, and
 * prints req/s, p99 latency and the ratios to the baselines.
 *
 * Load comes from wrk when installed, else autocannon from npm (run with Node). Tune with
 * BENCH_DURATION (seconds, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3;
 * targets are interleaved per round and the median is reported, to even out machine noise).
 */

interface Result {
  rps: number;
  p99Ms: number;
}

const duration = Number(Deno.env.get("BENCH_DURATION") ?? 10);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const root = new URL("..", import.meta.url).pathname;

const targets: { name: string; args: string[] }[] = [
  { name: "bare Deno.serve", args: ["run", "--allow-net", `${root}bench/targets/bare_deno.ts`] },
  { name: "bare Hono", args: ["run", "--allow-net", `${root}bench/targets/bare_hono.ts`] },
  { name: "edgebox", args: ["run", "--allow-all", `${root}main.ts`, "serve", "--port"] },
];

async function haveWrk(): Promise<boolean> {
  try {
    return (await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output()) !== null;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitUntilUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never came up`);
}

async function load(url: string, seconds: number, wrk: boolean): Promise<Result> {
  if (wrk) {
    const out = await new Deno.Command("wrk", {
      args: ["-t", "1", "-c", String(connections), "-d", `${seconds}s`, "--latency", url],
      stdout: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
    const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(text);
    const scale = { us: 0.001, ms: 1, s: 1000 }[p99?.[2] as "us" | "ms" | "s"] ?? NaN;
    return { rps, p99Ms: Number(p99?.[1]) * scale };
  }
  const out = await new Deno.Command("npx", {
    args: [
      "--yes",
      "autocannon@8.0.0",
      "--json",
      "-c",
      String(connections),
      "-d",
      String(seconds),
      url,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const json = JSON.parse(new TextDecoder().decode(out.stdout));
  return { rps: json.requests.average, p99Ms: json.latency.p99 };
}

async function measure(target: (typeof targets)[number], wrk: boolean): Promise<Result> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...target.args, String(port)],
    stdout: "null",
    stderr: "null", // edgebox still formats and writes its access log; only the terminal is spared
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}/health`;
    await waitUntilUp(url);
    await load(url, 2, wrk); // warm-up: JIT and connection pools
    return await load(url, duration, wrk);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const wrk = await haveWrk();
console.log(
  `GET /health, ${connections} connections, ${duration}s x ${rounds} rounds, load from ${
    wrk ? "wrk" : "autocannon"
  }`,
);
const samples = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
for (let round = 1; round <= rounds; round++) {
  for (const target of targets) {
    const result = await measure(target, wrk);
    samples.get(target.name)!.push(result);
    console.log(
      `  round ${round} ${target.name.padEnd(16)} ${result.rps.toFixed(0).padStart(8)} req/s  p99 ${
        result.p99Ms.toFixed(2)
      } ms`,
    );
  }
}
const summary = new Map([...samples].map(([name, results]) => [name, {
  rps: median(results.map((r) => r.rps)),
  p99Ms: median(results.map((r) => r.p99Ms)),
}]));
const deno = summary.get("bare Deno.serve")!;
const hono = summary.get("bare Hono")!;
console.log("\nmedian of rounds:");
for (const [name, result] of summary) {
  console.log(
    `  ${name.padEnd(16)} ${result.rps.toFixed(0).padStart(8)} req/s  p99 ${
      result.p99Ms.toFixed(2).padStart(6)
    } ms  ` +
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
