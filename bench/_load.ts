/**
 * What the load benchmarks in bench/ share: a free port, starting a server process and waiting
 * until it answers, wrk and autocannon runs and the figures in their reports, medians and
 * percentiles, and the rows of the req/s + p99 tables. Not a bench itself.
 */

/** Throughput and tail latency of one load run. */
export interface LoadResult {
  /** Requests per second. */
  rps: number;
  /** 99th percentile latency, in milliseconds. */
  p99Ms: number;
}

/** A port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** How long `waitUntilUp` waits, and for which process. */
export interface WaitOptions {
  /** Tries, 50 ms apart (default 200, about 10 s). */
  attempts?: number;
  /** Give up as soon as this process has exited. */
  child?: Deno.ChildProcess;
}

/**
 * Polls `url` every 50 ms until it answers 2xx; throws after `attempts` tries, or once `child`
 * (when given) has exited.
 */
export async function waitUntilUp(url: string, options: WaitOptions = {}): Promise<void> {
  const { attempts = 200, child } = options;
  let exited = false;
  child?.status.then(() => exited = true);
  for (let i = 0; i < attempts && !exited; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never came up${exited ? " (the target exited)" : ""}`);
}

/** How `withServer` starts its process and waits for it. */
export interface ServerOptions {
  /** Tries of `waitUntilUp`, 50 ms apart (default 200). */
  attempts?: number;
  /** Stop waiting as soon as the process exits, instead of after every try. */
  watchExit?: boolean;
  /** The process's stdout (default "null"). */
  stdout?: "null" | "inherit";
  /** The process's stderr (default "null"). */
  stderr?: "null" | "inherit";
  /** Variables added to the inherited environment. */
  env?: Record<string, string>;
}

/**
 * Spawns `command args`, waits until `url` answers 2xx, runs `work` with the process, and in
 * every case stops it (SIGTERM) and waits for it to exit.
 */
export async function withServer<T>(
  command: string,
  args: string[],
  url: string,
  options: ServerOptions,
  work: (child: Deno.ChildProcess) => Promise<T>,
): Promise<T> {
  const child = new Deno.Command(command, {
    args,
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "null",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  try {
    await waitUntilUp(url, {
      attempts: options.attempts ?? 200,
      ...(options.watchExit ? { child } : {}),
    });
    return await work(child);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/** Whether wrk is installed (`wrk --version` exits 1 after printing its version: finding the binary is what counts). */
export async function haveWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

/** The figures of one wrk run; latencies in milliseconds, NaN where wrk printed none. */
export interface WrkReport extends LoadResult {
  /** Requests completed. */
  requests: number;
  /** Mean latency. */
  meanMs: number;
  /** Median latency. */
  p50Ms: number;
  /** wrk counted answers that were neither 2xx nor 3xx. */
  non2xx: boolean;
  /** wrk exited 0 (it exits 1 when it cannot connect at all). */
  success: boolean;
  /** wrk's report as printed. */
  stdout: string;
  /** What wrk printed on stderr. */
  stderr: string;
}

/** How `runWrk` loads its URL. */
export interface WrkOptions {
  /** Connections kept open, each with one request in flight. */
  connections: number;
  /** Duration, in seconds. */
  seconds: number;
  /** A Lua script that makes the requests. */
  script?: string;
}

/** A latency as wrk prints it (`870.00us`, `1.23ms`, `2.00s`) in milliseconds; NaN when absent. */
function wrkMs(match: RegExpExecArray | null): number {
  const scale = { us: 0.001, ms: 1, s: 1000 }[match?.[2] as "us" | "ms" | "s"] ?? NaN;
  return Number(match?.[1]) * scale;
}

/**
 * Closed-loop load on `url` with wrk (one thread, `--latency`) and the figures of its report.
 * Never throws on what wrk reports: see `success` and `non2xx`.
 */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkReport> {
  const args = [
    "-t",
    "1",
    "-c",
    String(options.connections),
    "-d",
    `${options.seconds}s`,
    "--latency",
    ...(options.script ? ["-s", options.script] : []),
    url,
  ];
  const out = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
    requests: Number(/(\d+) requests in/.exec(text)?.[1]),
    meanMs: wrkMs(/Latency\s+([\d.]+)(us|ms|s)/.exec(text)),
    p50Ms: wrkMs(/50%\s+([\d.]+)(us|ms|s)/.exec(text)),
    p99Ms: wrkMs(/99%\s+([\d.]+)(us|ms|s)/.exec(text)),
    non2xx: /Non-2xx or 3xx responses/.test(text),
    success: out.success,
    stdout: text,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** The parts of autocannon's `--json` report the benches read. */
export interface AutocannonReport {
  /** Requests per second (`average`) and requests sent (`total`). */
  requests: { average: number; total: number };
  /** Latency percentiles, in milliseconds. */
  latency: { p99: number };
  /** Answers with a 2xx status. */
  "2xx": number;
  /** Answers with any other status. */
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
}

/**
 * Runs `npx --yes autocannon@8.0.0 --json <args> <url>` and returns its report; throws with
 * autocannon's stderr when it fails (it exits non-zero only on bad usage or a crash).
 */
export async function runAutocannon(url: string, args: string[]): Promise<AutocannonReport> {
  const out = await new Deno.Command("npx", {
    args: ["--yes", "autocannon@8.0.0", "--json", ...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `autocannon ${args.join(" ")} ${url} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Closed-loop load on `url` for `seconds` with `connections` connections: wrk when `wrk`, else
 * autocannon. Also counts the requests completed.
 */
export async function closedLoad(
  url: string,
  seconds: number,
  connections: number,
  wrk: boolean,
): Promise<LoadResult & { requests: number }> {
  if (wrk) {
    const { rps, p99Ms, requests } = await runWrk(url, { connections, seconds });
    return { rps, p99Ms, requests };
  }
  const json = await runAutocannon(url, ["-c", String(connections), "-d", String(seconds)]);
  return { rps: json.requests.average, p99Ms: json.latency.p99, requests: json.requests.total };
}

/** The middle value (the upper of the two middle ones for an even count); NaN when empty. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** The `p` quantile (0 to 1) of values already sorted ascending, by nearest rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** Median throughput and median p99 over rounds, each taken on its own. */
export function medianResult(results: LoadResult[]): LoadResult {
  return {
    rps: median(results.map((r) => r.rps)),
    p99Ms: median(results.map((r) => r.p99Ms)),
  };
}

/** `  round 1 edgebox             12345 req/s  p99 1.23 ms`: one round's figure, as it comes. */
export function roundRow(round: number, name: string, result: LoadResult): string {
  return `  round ${round} ${name.padEnd(16)} ${result.rps.toFixed(0).padStart(8)} req/s  p99 ${
    result.p99Ms.toFixed(2)
  } ms`;
}

/** `  edgebox             12345 req/s  p99   1.23 ms`: a row of a summary table. */
export function resultRow(name: string, result: LoadResult): string {
  return `  ${name.padEnd(16)} ${result.rps.toFixed(0).padStart(8)} req/s  p99 ${
    result.p99Ms.toFixed(2).padStart(6)
  } ms`;
}
