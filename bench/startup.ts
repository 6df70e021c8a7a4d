/**
 * Start-up of `deno task bench`: from exec to the first 200 of `/ready` (warm: Deno's caches
 * filled by a first, unmeasured start) and the RSS a second later, for edgebox on its built-in
 * config, edgebox with only `echo` enabled, and a bare `Deno.serve` (to `/health`). Each start
 * polls every 2 ms; the median of BENCH_STARTUP_RUNS starts (default 5), interleaved.
 * Run alone: `deno run -A bench/startup.ts`.
 */
import { freePort, median } from "./_load.ts";

/** Median exec-to-ready time and idle RSS of one target. */
export interface StartupFigures {
  readyMs: number;
  rssBytes: number;
}

const root = new URL("..", import.meta.url).pathname;

/** Starts each target `runs` times, interleaved; the medians by target name. */
export async function benchStartup(runs: number): Promise<Record<string, StartupFigures>> {
  const dir = await Deno.makeTempDir({ prefix: "edgebox-bench-startup-" });
  const echoOnly = `${dir}/echo.yaml`;
  await Deno.writeTextFile(
    echoOnly,
    "server: { host: 127.0.0.1, port: 8080 }\nplugins:\n  echo: { backend: memory }\n",
  );
  const serve = ["run", "-A", `${root}main.ts`, "serve"];
  const targets: Record<string, { args: (port: number) => string[]; path: string }> = {
    "built-in config": { args: (port) => [...serve, "--port", String(port)], path: "/ready" },
    "echo only": {
      args: (port) => [...serve, "--config", echoOnly, "--port", String(port)],
      path: "/ready",
    },
    "bare Deno.serve": {
      args: (port) => ["run", "--allow-net", `${root}bench/targets/bare_deno.ts`, String(port)],
      path: "/health",
    },
  };
  const samples: Record<string, { ready: number[]; rss: number[] }> = {};
  try {
    for (let run = 0; run <= runs; run++) {
      for (const [name, target] of Object.entries(targets)) {
        const figures = await startOnce(target.args, target.path, `${dir}/data-${run}`);
        if (run === 0) continue; // warm-up: module and code caches
        (samples[name] ??= { ready: [], rss: [] }).ready.push(figures.readyMs);
        samples[name].rss.push(figures.rssBytes);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const result: Record<string, StartupFigures> = {};
  for (const [name, { ready, rss }] of Object.entries(samples)) {
    result[name] = { readyMs: median(ready), rssBytes: median(rss) };
    console.log(
      `  ${name.padEnd(16)} exec to ready ${median(ready).toFixed(0).padStart(5)} ms  idle RSS ${
        (median(rss) / 2 ** 20).toFixed(0)
      } MiB`,
    );
  }
  return result;
}

async function startOnce(
  args: (port: number) => string[],
  path: string,
  dataDir: string,
): Promise<StartupFigures> {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: args(port),
    stdout: "null",
    stderr: "null",
    env: { EDGEBOX_DATA_DIR: dataDir, NO_COLOR: "1" },
  }).spawn();
  try {
    while (true) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}${path}`);
        await response.body?.cancel();
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 20_000) throw new Error(`${path} never answered 200`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const readyMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const rssBytes = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) * 1024;
    return { readyMs, rssBytes };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

if (import.meta.main) await benchStartup(Number(Deno.env.get("BENCH_STARTUP_RUNS") ?? 5));
