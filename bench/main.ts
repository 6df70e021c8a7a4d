/**
 * `deno task bench [--json FILE]`: edgebox against what a user would write instead, in one run,
 * printed as ONE table (and written as JSON with `--json`):
 *
 * - `GET /health`, `GET /v1/echo`, cache `GET` on Redis: edgebox, a Hono app on Deno and a
 *   Fastify 5 app on Node with the same conventions, and bare `Deno.serve` for `/health`
 *   (bench/routes.ts; wrk, rounds interleaved per target).
 * - HTTP publish on NATS JetStream against the direct JetStream client (bench/messaging.ts),
 *   with edgebox's p99 at half its own maximum rate.
 * - A 100 MiB upload and download on MinIO against the AWS SDK (bench/storage.ts), with
 *   edgebox's peak RSS growth during the upload.
 * - Start-up: exec to `/ready` and idle RSS, built-in config and echo only, against bare
 *   `Deno.serve` (bench/startup.ts).
 *
 * Needs wrk, Node + npm (Fastify's packages go to BENCH_PEERS_DIR, outside the repo), Redis
 * (REDIS_URL), NATS (NATS_URL) and MinIO (S3_ENDPOINT); a section whose service is missing is
 * reported as skipped. Tune with BENCH_DURATION (seconds per route and round, default 8),
 * BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3), BENCH_SECTIONS (comma-separated of
 * routes, publish, storage, startup; default all). Ratios are measured in this run; never compare figures
 * across machines.
 */
import { parseArgs } from "node:util";
import type { LoadResult } from "./_load.ts";
import { benchPublish, type PublishFigures } from "./messaging.ts";
import { benchRoutes, type RouteFigures } from "./routes.ts";
import { benchStartup, type StartupFigures } from "./startup.ts";
import { benchStorage, type StorageFigures } from "./storage.ts";

const env = (name: string, fallback: string) => Deno.env.get(name) ?? fallback;
const { values } = parseArgs({ args: Deno.args, options: { json: { type: "string" } } });
const sections = new Set(env("BENCH_SECTIONS", "routes,publish,storage,startup").split(","));

/** Every figure of the run, as written by `--json`. */
interface BenchReport {
  date: string;
  routes?: RouteFigures[] | undefined;
  publish?: PublishFigures | undefined;
  storage?: StorageFigures | undefined;
  startup?: Record<string, StartupFigures> | undefined;
  skipped: Record<string, string>;
}

const report: BenchReport = { date: new Date().toISOString(), skipped: {} };

async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  if (!sections.has(name)) return undefined;
  console.log(`\n== ${name}`);
  try {
    return await run();
  } catch (error) {
    report.skipped[name] = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    console.error(`${name} skipped: ${report.skipped[name]}`);
    return undefined;
  }
}

const connections = Number(env("BENCH_CONNECTIONS", "50"));
report.routes = await section("routes", () =>
  benchRoutes({
    seconds: Number(env("BENCH_DURATION", "8")),
    connections,
    rounds: Number(env("BENCH_ROUNDS", "3")),
    redisUrl: env("REDIS_URL", "redis://127.0.0.1:6379"),
    valueSize: Number(env("BENCH_VALUE_SIZE", "100")),
  }));
report.publish = await section("publish", benchPublish);
report.storage = await section("storage", benchStorage);
report.startup = await section(
  "startup",
  () => benchStartup(Number(env("BENCH_STARTUP_RUNS", "5"))),
);

const k = (rps: number) => rps >= 1000 ? `${(rps / 1000).toFixed(1)}k` : rps.toFixed(0);
const load = (r: LoadResult) => `${k(r.rps)}/s, p99 ${r.p99Ms.toFixed(1)} ms`;
const times = (ratio: number | undefined) => ratio === undefined ? "" : ` (${ratio.toFixed(2)}x)`;
const rows: string[][] = [];
for (const figures of report.routes ?? []) {
  const { edgebox, Hono, Fastify, "Deno.serve": deno } = figures.results;
  rows.push([
    figures.route,
    load(edgebox!),
    Hono ? `${load(Hono)}${times(figures.ratios.Hono)}` : "",
    Fastify ? `${load(Fastify)}${times(figures.ratios.Fastify)}` : "",
    deno ? `Deno.serve ${load(deno)}${times(figures.ratios["Deno.serve"])}` : "",
  ]);
}
if (report.publish) {
  const { direct, http, half } = report.publish;
  rows.push([
    "POST publish (NATS JetStream)",
    `${load(http)}; at half: p99 ${half.p99Ms.toFixed(1)} ms`,
    "",
    "",
    `JetStream client ${load(direct)} (${(http.rps / direct.rps).toFixed(2)}x)`,
  ]);
}
if (report.storage) {
  const { mib, upload, download } = report.storage;
  const rate = (seconds: number) => `${(mib / seconds).toFixed(0)} MiB/s`;
  const growth = (bytes: number) =>
    Number.isNaN(bytes) ? "" : `, RSS +${(bytes / 2 ** 20).toFixed(0)} MiB`;
  for (const [name, t] of [["upload", upload], ["download", download]] as const) {
    rows.push([
      `${name} ${mib} MiB (MinIO)`,
      `${rate(t.edgeboxSeconds)}${growth(t.rssGrowth)}`,
      "",
      "",
      `AWS SDK ${rate(t.sdkSeconds)} (${(t.sdkSeconds / t.edgeboxSeconds).toFixed(2)}x)`,
    ]);
  }
}
if (report.startup) {
  const deno = report.startup["bare Deno.serve"];
  for (const [name, figures] of Object.entries(report.startup)) {
    if (name === "bare Deno.serve") continue;
    rows.push([
      `start-up, ${name}`,
      `ready in ${figures.readyMs.toFixed(0)} ms, idle RSS ${
        (figures.rssBytes / 2 ** 20).toFixed(0)
      } MiB`,
      "",
      "",
      deno
        ? `Deno.serve ${deno.readyMs.toFixed(0)} ms, ${(deno.rssBytes / 2 ** 20).toFixed(0)} MiB`
        : "",
    ]);
  }
}
const header = [
  "route",
  "edgebox",
  "Hono, same conventions",
  "Fastify, same conventions",
  "baseline",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`\n${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}`);
for (const row of rows) console.log(line(row));
console.log("(x): edgebox / that target, the median of per-round ratios (storage: of medians)");
for (const [name, reason] of Object.entries(report.skipped)) {
  console.log(`${name}: skipped, ${reason}`);
}
if (values.json) {
  await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
  console.log(`figures written to ${values.json}`);
}
