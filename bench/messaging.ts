/**
 * `deno run -A bench/messaging.ts`: acked publish throughput and latency through edgebox's HTTP
 * API (`POST /v1/messaging/publish/{subject}`, NATS JetStream behind it) against the same
 * publishes made directly with the NATS client, in the same run, at the same concurrency.
 *
 * Prints req/s and p99 for both, the throughput ratio (target: HTTP >= 50% of direct), and the
 * HTTP p99 at half of its own maximum rate (target: under 10 ms), next to the p99 of `GET /health`
 * at that rate (the floor the machine and load generator set). Needs NATS with JetStream at
 * NATS_URL (default nats://127.0.0.1:4222) and wrk. Tune with BENCH_DURATION (seconds per measurement, default 5),
 * BENCH_CONNECTIONS (default 32), BENCH_PAYLOAD (bytes, default 128), BENCH_STORAGE (file |
 * memory, default file) and BENCH_ROUNDS (default 1; the median round is reported).
 *
 * The edgebox target runs in its own process: this file serves as its own target
 * (`--serve <config> --port N`), the same `serve()` main.ts calls with the messaging plugin in
 * the registry, so it works before `messaging` is a built-in.
 */
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { loadConfigFile } from "../core/config.ts";
import type { PluginDefinition } from "../core/plugin.ts";
import { builtinRegistry as builtinPlugins } from "../plugins/mod.ts";
import { serve } from "../core/server.ts";
import { messagingPlugin } from "../plugins/messaging/mod.ts";
import { freePort, type LoadResult, percentile, runWrk, withServer } from "./_load.ts";

const duration = Number(Deno.env.get("BENCH_DURATION") ?? 5);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 32);
const payloadBytes = Number(Deno.env.get("BENCH_PAYLOAD") ?? 128);
const storage = Deno.env.get("BENCH_STORAGE") === "memory" ? "memory" : "file";
const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 1);
const natsUrl = Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222";
const root = new URL("..", import.meta.url).pathname;

/** Target mode: serve a config with the messaging plugin registered. */
async function serveTarget(configPath: string, port: number): Promise<number> {
  const registry = new Map(builtinPlugins);
  registry.set("messaging", messagingPlugin as unknown as PluginDefinition);
  const config = await loadConfigFile(configPath, { registry });
  config.server.port = port;
  return await serve(config, { registry, source: configPath });
}

/** `connections` publishers, each awaiting its ack before the next, for `seconds`. */
async function direct(subject: string, seconds: number): Promise<LoadResult> {
  // The client options edgebox's nats driver uses where they bear on speed.
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    const payload = new Uint8Array(payloadBytes).fill(120);
    const latencies: number[] = [];
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await js.publish(subject, payload);
        latencies.push(performance.now() - started);
      }
    }));
    return {
      rps: latencies.length / seconds,
      p99Ms: percentile(latencies.toSorted((a, b) => a - b), 0.99),
    };
  } finally {
    await nc.close();
  }
}

/**
 * wrk POSTing the payload (or GETting, with `get`). With `rate`, each connection waits
 * `connections / rate` seconds between its requests (wrk's `delay()`): a paced load near that
 * rate whose latencies exclude the pauses, measured by a generator cheap enough to leave the
 * server most of the machine (autocannon alone shows a p99 of milliseconds on two shared cores).
 */
async function http(url: string, seconds: number, rate?: number, get = false): Promise<LoadResult> {
  const lines = get ? [] : [
    `wrk.method = "POST"`,
    `wrk.body = string.rep("x", ${payloadBytes})`,
    `wrk.headers["Content-Type"] = "application/octet-stream"`,
  ];
  if (rate !== undefined) {
    lines.push(`function delay() return ${Math.round(connections * 1000 / rate)} end`);
  }
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    await Deno.writeTextFile(script, lines.join("\n") + "\n");
    const report = await runWrk(url, { connections, seconds, script });
    if (!report.success) throw new Error(`wrk ${url} failed: ${report.stderr}`);
    if (report.non2xx) console.error(`  (non-2xx answers from ${url})`);
    return { rps: report.rps, p99Ms: report.p99Ms };
  } finally {
    await Deno.remove(script);
  }
}

function median(results: LoadResult[]): LoadResult {
  const sorted = results.toSorted((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function row(name: string, result: LoadResult): string {
  return `${name.padEnd(34)} ${result.rps.toFixed(0).padStart(8)} req/s   p99 ${
    result.p99Ms.toFixed(2).padStart(7)
  } ms`;
}

/** The figures of one publish bench: direct client, HTTP at full and half load, and the floor. */
export interface PublishFigures {
  direct: LoadResult;
  http: LoadResult;
  half: LoadResult;
  floor: LoadResult;
}

/** Runs the publish bench (see the module doc), prints its lines and returns its figures. */
export async function benchPublish(): Promise<PublishFigures> {
  const stream = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const subject = `${stream}.events`;
  const admin = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({
    name: stream,
    subjects: [`${stream}.>`],
    storage: storage === "file" ? StorageType.File : StorageType.Memory,
    max_msgs: 1_000_000,
  });

  const dir = await Deno.makeTempDir({ prefix: "edgebox-bench-messaging-" });
  const configPath = `${dir}/edgebox.yaml`;
  await Deno.writeTextFile(
    configPath,
    stringify({
      server: { host: "127.0.0.1", port: 0 },
      log: { level: "warn" },
      plugins: { messaging: { backend: "nats", url: natsUrl } },
    }),
  );
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}/v1/messaging/publish/${subject}`;

  try {
    return await withServer(
      Deno.execPath(),
      ["run", "-A", `${root}bench/messaging.ts`, "--serve", configPath, "--port", String(port)],
      `${base}/ready`,
      { attempts: 400, stderr: "inherit" },
      async () => {
        console.log(
          `acked publishes of ${payloadBytes} B to a ${storage}-storage stream, ${connections} in flight, ${duration}s each, ${rounds} round(s)`,
        );
        // Warm both paths (JIT, connections) before measuring.
        await direct(subject, 1);
        await http(url, 1);
        const directRuns: LoadResult[] = [];
        const httpRuns: LoadResult[] = [];
        for (let round = 0; round < rounds; round++) {
          directRuns.push(await direct(subject, duration));
          httpRuns.push(await http(url, duration));
        }
        const baseline = median(directRuns);
        const edgebox = median(httpRuns);
        const half = await http(url, duration, edgebox.rps / 2);
        // What this machine and load generator give at that rate with no work at all behind it.
        const floor = await http(`${base}/health`, duration, edgebox.rps / 2, true);
        console.log(row("NATS client, direct", baseline));
        console.log(row("edgebox HTTP publish", edgebox));
        console.log(row(`edgebox HTTP at ${(edgebox.rps / 2).toFixed(0)} req/s (half)`, half));
        console.log(row(`  floor: GET /health at that rate`, floor));
        const ratio = edgebox.rps / baseline.rps;
        console.log(
          `ratio HTTP / direct: ${(ratio * 100).toFixed(0)}% (target >= 50%); ` +
            `p99 at half rate: ${half.p99Ms.toFixed(2)} ms (target < 10 ms)`,
        );
        return { direct: baseline, http: edgebox, half, floor };
      },
    );
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await admin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { serve: { type: "string" }, port: { type: "string" } },
  });
  if (values.serve) Deno.exit(await serveTarget(values.serve, Number(values.port)));
  await benchPublish();
}
