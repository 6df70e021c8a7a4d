/**
 * `deno run -A bench/storage.ts`: object transfers through edgebox's storage plugin (s3 backend,
 * MinIO) against the same transfers made directly with the AWS SDK, in the same run, and
 * edgebox's peak RSS while it streams. Needs MinIO (S3_ENDPOINT, default http://127.0.0.1:9000).
 *
 * - Large: one object of STORAGE_BENCH_LARGE_MIB (default 100) uploaded and downloaded
 *   STORAGE_BENCH_ROUNDS times (default 3, median reported): through edgebox with curl, directly
 *   with the SDK (the baseline the issue names), and directly with curl (SigV4, the floor);
 *   interleaved. edgebox runs in a child process so its RSS is its own: the growth reported is
 *   the peak during a transfer (VmHWM, reset before it) minus the RSS just before it.
 *   curl is the HTTP client because Deno's fetch tops out near 90 MiB/s on its own.
 * - Small: 1 MiB PUTs and GETs for STORAGE_BENCH_SECONDS each (default 5) with
 *   STORAGE_BENCH_CONCURRENCY requests in flight (default 4); objects per second.
 *
 * Prints ratios (edgebox / direct); never asserts timings. The machine is shared: read the
 * ratios, not the absolute numbers.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { freePort, median, waitUntilUp } from "./_load.ts";

const MiB = 2 ** 20;
const endpoint = Deno.env.get("S3_ENDPOINT") ?? "http://127.0.0.1:9000";
const accessKeyId = Deno.env.get("S3_ACCESS_KEY") ?? "minioadmin";
const secretAccessKey = Deno.env.get("S3_SECRET_KEY") ?? "minioadmin";
const bucket = Deno.env.get("STORAGE_BENCH_BUCKET") ?? "edgebox-bench";
const largeMiB = Number(Deno.env.get("STORAGE_BENCH_LARGE_MIB") ?? 100);
const rounds = Number(Deno.env.get("STORAGE_BENCH_ROUNDS") ?? 3);
const seconds = Number(Deno.env.get("STORAGE_BENCH_SECONDS") ?? 5);
const concurrency = Number(Deno.env.get("STORAGE_BENCH_CONCURRENCY") ?? 4);
const partSize = Number(Deno.env.get("STORAGE_BENCH_PART_MIB") ?? 8) * MiB;
const uploadConcurrency = Number(Deno.env.get("STORAGE_BENCH_UPLOAD_CONCURRENCY") ?? 4);
const root = new URL("..", import.meta.url).pathname;

/** Child mode: serve edgebox with the storage plugin registered, from a config file. */
async function serveChild(configFile: string): Promise<never> {
  const { loadConfigFile } = await import("../core/config.ts");
  const { builtinRegistry: registry } = await import("../plugins/mod.ts");
  const { serve } = await import("../core/server.ts");
  const config = await loadConfigFile(configFile, { registry });
  Deno.exit(await serve(config, { registry, source: configFile }));
}

/** Resident set size and its peak (kB -> bytes) of a process. */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** Resets the peak RSS of a process (Linux: `5` to clear_refs); false when not allowed. */
async function resetPeak(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

async function consume(stream: ReadableStream<Uint8Array> | null | undefined): Promise<number> {
  let bytes = 0;
  if (stream) { for await (const chunk of stream) bytes += chunk.length; }
  return bytes;
}

/** Runs curl quietly, discarding the body; throws unless it answers `status`. */
async function curl(args: string[], status: string): Promise<void> {
  const output = await new Deno.Command("curl", {
    args: ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args],
    stdout: "piped",
  }).output();
  const got = new TextDecoder().decode(output.stdout);
  if (got !== status) throw new Error(`curl ${args.at(-1)} answered ${got}, expected ${status}`);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Runs `operation` with `concurrency` in flight for `seconds`; operations per second. */
async function throughput(operation: (i: number) => Promise<void>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await operation(next++ % 64);
      done++;
    }
  }));
  return done / seconds;
}

/** One direction of the large transfer: seconds (medians) and edgebox's RSS growth in bytes. */
export interface TransferFigures {
  edgeboxSeconds: number;
  sdkSeconds: number;
  curlSeconds: number;
  /** Peak RSS growth during the transfer (VmHWM), NaN when the peak cannot be reset. */
  rssGrowth: number;
}

/** The figures of the storage bench: object size and both directions of the large transfer. */
export interface StorageFigures {
  mib: number;
  upload: TransferFigures;
  download: TransferFigures;
}

/** Runs the storage bench (see the module doc), prints its lines and returns its figures. */
export async function benchStorage(): Promise<StorageFigures> {
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const prefix = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "edgebox-storage-bench-" });
  const configFile = `${dir}/edgebox.yaml`;
  await Deno.writeTextFile(
    configFile,
    [
      "server: { host: 127.0.0.1, port: " + port + " }",
      "log: { level: warn }",
      "plugins:",
      "  storage:",
      "    backend: s3",
      `    endpoint: ${endpoint}`,
      `    bucket: ${bucket}`,
      `    accessKeyId: ${accessKeyId}`,
      `    secretAccessKey: ${secretAccessKey}`,
      "    forcePathStyle: true",
      "    createBucket: true",
      `    partSize: ${partSize}`,
      `    uploadConcurrency: ${uploadConcurrency}`,
    ].join("\n") + "\n",
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${root}deno.json`,
      `${root}bench/storage.ts`,
      "--serve",
      configFile,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}/v1/storage`;
  try {
    await waitUntilUp(`http://127.0.0.1:${port}/ready`, { attempts: 400 });
    const large = new Uint8Array(largeMiB * MiB);
    for (let at = 0; at < large.length; at += 65_536) {
      crypto.getRandomValues(large.subarray(at, at + 65_536));
    }
    const oneMiB = large.slice(0, MiB);

    // Warm both paths (connections, JIT) before measuring.
    await (await fetch(`${base}/objects/${prefix}/warm`, { method: "PUT", body: oneMiB })).body
      ?.cancel();
    await consume((await fetch(`${base}/objects/${prefix}/warm`)).body);
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/warm`, Body: oneMiB }),
    );

    const largeFile = `${dir}/large.bin`;
    await Deno.writeFile(largeFile, large);
    const idle = await memory(child.pid);
    const canReset = await resetPeak(child.pid);
    const sigv4 = [
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "--user",
      `${accessKeyId}:${secretAccessKey}`,
    ];
    const unsigned = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"];
    const times: Record<string, number[]> = {};
    const growth: Record<string, number> = {};
    /** Times `work` and records edgebox's RSS growth during it (peak minus RSS before). */
    const measure = async (name: string, work: () => Promise<unknown>, watch = true) => {
      const before = (await memory(child.pid)).rss;
      await resetPeak(child.pid);
      (times[name] ??= []).push(await timed(work));
      if (watch) {
        growth[name] = Math.max(growth[name] ?? 0, (await memory(child.pid)).peak - before);
      }
    };
    for (let round = 0; round < rounds; round++) {
      const key = `${prefix}/large-${round}`;
      await measure("upEdge", () => curl(["-T", largeFile, `${base}/objects/${key}-edge`], "201"));
      await measure("upSdk", () =>
        new Upload({
          client,
          params: { Bucket: bucket, Key: `${key}-sdk`, Body: large },
          partSize,
          queueSize: uploadConcurrency,
        }).done(), false);
      await measure(
        "upCurl",
        () =>
          curl(
            [...sigv4, ...unsigned, "-T", largeFile, `${endpoint}/${bucket}/${key}-curl`],
            "200",
          ),
        false,
      );
      await measure("downEdge", () => curl([`${base}/objects/${key}-edge`], "200"));
      await measure("downSdk", async () => {
        const output = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: `${key}-sdk` }),
        );
        const bytes = await consume(
          output.Body?.transformToWebStream() as ReadableStream<Uint8Array>,
        );
        if (bytes !== large.length) throw new Error(`GetObject returned ${bytes} bytes`);
      }, false);
      await measure(
        "downCurl",
        () => curl([...sigv4, ...unsigned, `${endpoint}/${bucket}/${key}-curl`], "200"),
        false,
      );
    }
    // A chunked upload (no Content-Length): what the core's body limit does with one today.
    await measure("chunked", () =>
      new Deno.Command("sh", {
        args: [
          "-c",
          `curl -s -o /dev/null -T - '${base}/objects/${prefix}/chunked' < '${largeFile}'`,
        ],
      }).output());
    const peakOverall = (await memory(child.pid)).peak;

    const smallEdgePut = await throughput(async (i) => {
      const response = await fetch(`${base}/objects/${prefix}/small-${i}`, {
        method: "PUT",
        body: oneMiB,
      });
      await response.body?.cancel();
    });
    const smallSdkPut = await throughput(async (i) => {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/sdk-small-${i}`, Body: oneMiB }),
      );
    });
    const smallEdgeGet = await throughput(async (i) => {
      await consume((await fetch(`${base}/objects/${prefix}/small-${i % 8}`)).body);
    });
    const smallSdkGet = await throughput(async (i) => {
      const output = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/sdk-small-${i % 8}` }),
      );
      await consume(output.Body?.transformToWebStream() as ReadableStream<Uint8Array>);
    });

    const mbps = (s: number) => `${(largeMiB / s).toFixed(0).padStart(4)} MiB/s`;
    const pct = (a: number, b: number) => `${(a / b * 100).toFixed(0)}%`.padStart(5);
    const mib = (bytes: number) => canReset ? `${(bytes / MiB).toFixed(0)} MiB` : "n/a";
    const m = (name: string) => median(times[name]!);
    console.log(
      `\nstorage bench: MinIO at ${endpoint}, ${largeMiB} MiB object, median of ${rounds}`,
    );
    console.log(
      `edgebox (s3 backend, partSize ${partSize / MiB} MiB x ${uploadConcurrency}) idle RSS ${
        mib(idle.rss)
      }, ` +
        `peak over the run ${mib(peakOverall)}; HTTP client: curl\n`,
    );
    console.log(
      "transfer           edgebox            direct SDK         direct curl        " +
        "edgebox/SDK  edgebox/curl  edgebox RSS growth",
    );
    for (
      const [label, edge, sdk, raw] of [
        [`upload ${largeMiB} MiB `, "upEdge", "upSdk", "upCurl"],
        [`download ${largeMiB} MiB`, "downEdge", "downSdk", "downCurl"],
      ] as const
    ) {
      console.log(
        `${label.padEnd(18)} ${m(edge).toFixed(2)} s ${mbps(m(edge))}  ${m(sdk).toFixed(2)} s ${
          mbps(m(sdk))
        }  ${m(raw).toFixed(2)} s ${mbps(m(raw))}  ${pct(m(sdk), m(edge))}        ${
          pct(m(raw), m(edge))
        }         ${mib(growth[edge]!)}`,
      );
    }
    console.log(
      `${"chunked upload".padEnd(18)} ${m("chunked").toFixed(2)} s ${mbps(m("chunked"))}  ` +
        `(no Content-Length; counted as it streams)${" ".repeat(33)}${mib(growth.chunked!)}`,
    );
    console.log(
      `PUT 1 MiB x${concurrency}        ${smallEdgePut.toFixed(0).padStart(4)} obj/s         ${
        smallSdkPut.toFixed(0).padStart(4)
      } obj/s                            ${pct(smallEdgePut, smallSdkPut)}`,
    );
    console.log(
      `GET 1 MiB x${concurrency}        ${smallEdgeGet.toFixed(0).padStart(4)} obj/s         ${
        smallSdkGet.toFixed(0).padStart(4)
      } obj/s                            ${pct(smallEdgeGet, smallSdkGet)}`,
    );
    const transfer = (edge: string, sdk: string, raw: string): TransferFigures => ({
      edgeboxSeconds: m(edge),
      sdkSeconds: m(sdk),
      curlSeconds: m(raw),
      rssGrowth: canReset ? growth[edge]! : NaN,
    });
    return {
      mib: largeMiB,
      upload: transfer("upEdge", "upSdk", "upCurl"),
      download: transfer("downEdge", "downSdk", "downCurl"),
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: `${prefix}/`,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      }
      token = page.NextContinuationToken;
    } while (token);
    client.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}

if (Deno.args[0] === "--serve") {
  await serveChild(Deno.args[1]!);
} else if (import.meta.main) {
  await benchStorage();
}
