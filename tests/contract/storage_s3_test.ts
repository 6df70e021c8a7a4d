/**
 * The storage contract on S3 (MinIO locally), when it is reachable, plus S3-only behaviour:
 * bucket creation at start, multipart server-side copy, and bounded failure (never a hang)
 * when the service is down or stops answering, which needs no service at all.
 */
import assert from "node:assert/strict";
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { storagePlugin } from "../../plugins/storage/mod.ts";
import { S3Storage, type S3StorageOptions } from "../../plugins/storage/s3.ts";
import { sleep } from "../../core/timing.ts";
import { configYaml, openApp, waitFor } from "../_helpers.ts";
import { realService } from "./_services.ts";
import {
  digestOf,
  failingStream,
  generatedStream,
  rejectsWith,
  runStorageContract,
  type StorageTarget,
  streamOf,
  type TargetOptions,
  uniquePrefix,
} from "./storage_contract.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;
const MiB = 2 ** 20;

const endpoint = Deno.env.get("S3_ENDPOINT") ?? "http://127.0.0.1:9000";
const bucket = Deno.env.get("S3_BUCKET") ?? "edgebox-test";
const credentials = {
  accessKeyId: Deno.env.get("S3_ACCESS_KEY") ?? "minioadmin",
  secretAccessKey: Deno.env.get("S3_SECRET_KEY") ?? "minioadmin",
};

function options(overrides: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    endpoint,
    region: Deno.env.get("S3_REGION") ?? "us-east-1",
    bucket,
    credentials,
    forcePathStyle: true,
    createBucket: true,
    partSize: 5 * MiB,
    uploadConcurrency: 4,
    // Below the SDK's thresholds (2s, 6s) for deferring its socket timers by a timer of its
    // own, which would outlive a test and trip the ops sanitizer.
    connectTimeout: 1_500,
    requestTimeout: 30_000,
    idleTimeout: 5_000,
    maxAttempts: 2,
    maxObjectSize: 2 ** 30,
    maxKeyLength: 1024,
    ...overrides,
  };
}

/** A client of our own, for what the driver does not offer (and cleanup after it closes). */
function adminClient(): S3Client {
  return new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
}

/** Runs `work` on a fresh key prefix with an admin client, then removes what it left there. */
async function inPrefix(work: (prefix: string, admin: S3Client) => Promise<void>): Promise<void> {
  const prefix = uniquePrefix();
  const admin = adminClient();
  try {
    await work(prefix, admin);
  } finally {
    await removeAll(admin, prefix);
    admin.destroy();
  }
}

/** Deletes every object under `prefix`. */
async function removeAll(client: S3Client, prefix: string, from = bucket): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: from, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      await client.send(new DeleteObjectCommand({ Bucket: from, Key: object.Key }));
    }
    token = page.NextContinuationToken;
  } while (token);
}

/**
 * Multipart uploads still open (parts stored, no object made of them) for keys under `prefix`.
 * Listed bucket-wide and filtered here: MinIO takes ListMultipartUploads' `Prefix` as an exact
 * key, so asking for a prefix would always find nothing.
 */
async function openUploads(client: S3Client, prefix: string): Promise<number> {
  let count = 0;
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker, UploadIdMarker }),
    );
    count += (page.Uploads ?? []).filter((u) => u.Key?.startsWith(prefix)).length;
    if (!page.IsTruncated) return count;
    KeyMarker = page.NextKeyMarker;
    UploadIdMarker = page.NextUploadIdMarker;
  }
}

async function openS3(overrides?: TargetOptions): Promise<StorageTarget> {
  const admin = adminClient();
  const driver = new S3Storage(options(overrides ?? {}));
  const prefixes = new Set<string>();
  try {
    await driver.connect();
  } catch (error) {
    await driver.close();
    admin.destroy();
    throw error;
  }
  return {
    driver,
    partialUploads(prefix) {
      prefixes.add(prefix);
      return openUploads(admin, prefix);
    },
    async [Symbol.asyncDispose]() {
      await driver.close();
      try {
        // The suite's keys all live under this run's prefix; remove them.
        await removeAll(admin, uniquePrefix().split("/")[0]!);
      } finally {
        admin.destroy();
      }
    },
  };
}

const minio = await realService("minio", endpoint, 9000);

if (minio) {
  runStorageContract("s3", openS3);

  Deno.test({
    name: "s3: connect creates a missing bucket and is idempotent",
    ...SANITIZED,
    async fn() {
      const fresh = `edgebox-test-${crypto.randomUUID().slice(0, 8)}`;
      const admin = adminClient();
      try {
        await using driver = new S3Storage(options({ bucket: fresh }));
        await driver.connect();
        await driver.connect();
        assert.deepEqual(await driver.ping(), { status: "ready" });
      } finally {
        await admin.send(new DeleteBucketCommand({ Bucket: fresh })).catch(() => {});
        admin.destroy();
      }
    },
  });

  Deno.test({
    name: "s3: connect refuses a missing bucket when createBucket is off",
    ...SANITIZED,
    async fn() {
      await using driver = new S3Storage(
        options({
          bucket: `edgebox-absent-${crypto.randomUUID().slice(0, 8)}`,
          createBucket: false,
        }),
      );
      await rejectsWith(driver.connect(), "storage.bucket_missing");
      assert.equal((await driver.ping()).status, "down");
    },
  });

  Deno.test({
    name: "s3: a copy above the single-request limit goes part by part",
    ...SANITIZED,
    fn: () =>
      inPrefix(async (prefix) => {
        await using driver = new S3Storage(options({ multipartCopyThreshold: 5 * MiB }));
        await driver.connect();
        const source = generatedStream(11 * MiB);
        await driver.put(`${prefix}/src`, source.stream, {
          contentType: "application/x-test",
          metadata: { kind: "big" },
        });
        const copied = await driver.copy(`${prefix}/src`, `${prefix}/dst`);
        assert.equal(copied.size, 11 * MiB);
        const result = await driver.get(`${prefix}/dst`);
        assert.equal(result.kind, "body");
        if (result.kind !== "body") return;
        assert.equal(result.info.contentType, "application/x-test");
        assert.deepEqual(result.info.metadata, { kind: "big" });
        assert.deepEqual(await digestOf(result.body), { sha256: source.sha256(), size: 11 * MiB });
      }),
  });
}

if (minio) {
  Deno.test({
    name: "s3: an upload of several parts is stored part by part and reads back exactly",
    ...SANITIZED,
    fn: () =>
      inPrefix(async (prefix, admin) => {
        await using driver = new S3Storage(options({ partSize: 5 * MiB, uploadConcurrency: 2 }));
        await driver.connect();
        const source = generatedStream(12 * MiB + 3, 100_000);
        const written = await driver.put(`${prefix}/big`, source.stream, {
          contentType: "application/x-test",
          metadata: { kind: "parts" },
          headers: { cacheControl: "no-store" },
        });
        assert.equal(written.size, 12 * MiB + 3);
        // S3 tags an object made of parts with its part count.
        assert.match(written.etag, /-3"$/);
        const result = await driver.get(`${prefix}/big`);
        assert.equal(result.kind, "body");
        if (result.kind !== "body") return;
        assert.equal(result.info.etag, written.etag);
        assert.equal(result.info.contentType, "application/x-test");
        assert.deepEqual(result.info.metadata, { kind: "parts" });
        assert.equal(result.info.headers.cacheControl, "no-store");
        assert.deepEqual(await digestOf(result.body), {
          sha256: source.sha256(),
          size: 12 * MiB + 3,
        });
        assert.equal(await openUploads(admin, prefix), 0);
      }),
  });

  Deno.test({
    name: "s3: a body failing after several parts leaves no object and no multipart upload",
    ...SANITIZED,
    fn: () =>
      inPrefix(async (prefix, admin) => {
        await using driver = new S3Storage(options({ partSize: 5 * MiB, uploadConcurrency: 2 }));
        await driver.connect();
        await rejectsWith(
          driver.put(`${prefix}/cut`, failingStream(12 * MiB)),
          "storage.body_incomplete",
        );
        await rejectsWith(driver.head(`${prefix}/cut`), "storage.not_found");
        assert.equal(await openUploads(admin, prefix), 0);
      }),
  });

  Deno.test({
    name: "s3: a body passing maxObjectSize after several parts leaves no multipart upload",
    ...SANITIZED,
    fn: () =>
      inPrefix(async (prefix, admin) => {
        await using driver = new S3Storage(
          options({ partSize: 5 * MiB, uploadConcurrency: 2, maxObjectSize: 11 * MiB }),
        );
        await driver.connect();
        await rejectsWith(
          driver.put(`${prefix}/big`, generatedStream(16 * MiB).stream),
          "storage.too_large",
        );
        await rejectsWith(driver.head(`${prefix}/big`), "storage.not_found");
        assert.equal(await openUploads(admin, prefix), 0);
      }),
  });
}

/** A TCP server that accepts connections and never answers: a service that hangs. */
function blackhole(): AsyncDisposable & { url: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch {
      // the listener closed
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of held) conn.close();
    },
  };
}

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

Deno.test({
  name: "s3: a service that is down makes connect and operations fail as unavailable",
  ...SANITIZED,
  async fn() {
    const connectTimeout = 50;
    await using driver = new S3Storage(
      options({ endpoint: `http://127.0.0.1:${closedPort()}`, maxAttempts: 1, connectTimeout }),
    );
    const error = await rejectsWith(driver.connect(), "storage.unavailable");
    const retryAfter = (error as { headers?: Record<string, string> }).headers?.["Retry-After"];
    assert.ok(Number(retryAfter) >= 1, `Retry-After ${retryAfter}`);
    await rejectsWith(driver.head("k"), "storage.unavailable");
    await rejectsWith(driver.list({ limit: 10 }), "storage.unavailable");
    assert.equal((await driver.ping()).status, "down");
    // The SDK clears its connect timer only when a connection opens; let the refused ones lapse.
    await sleep(connectTimeout * 2);
  },
});

Deno.test({
  name: "s3: a service that never answers times out as unavailable instead of hanging",
  ...SANITIZED,
  async fn() {
    await using hole = blackhole();
    await using driver = new S3Storage(
      options({ endpoint: hole.url, requestTimeout: 300, idleTimeout: 300, maxAttempts: 1 }),
    );
    await rejectsWith(driver.connect(), "storage.unavailable");
    await rejectsWith(driver.get("k"), "storage.unavailable");
    await rejectsWith(
      driver.put("k", streamOf(new TextEncoder().encode("x"))),
      "storage.unavailable",
    );
  },
});

/**
 * A TCP relay in front of MinIO that can freeze (hold every connection open and pass no byte
 * either way, like a stopped process or a dead link) and thaw again.
 */
function relay(target: { hostname: string; port: number }): AsyncDisposable & {
  url: string;
  freeze(): void;
  thaw(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let thawed: Promise<void> = Promise.resolve();
  let thaw = () => {};
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        await thawed;
        let at = 0;
        while (at < n) at += await to.write(buffer.subarray(at, n));
      }
    } catch {
      // either side closed
    }
    try {
      to.close();
      conns.delete(to);
    } catch {
      // closed already
    }
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        let upstream: Deno.Conn;
        try {
          upstream = await Deno.connect(target);
        } catch {
          client.close();
          continue;
        }
        conns.add(client).add(upstream);
        for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
          const running = pump(from, to);
          pumps.add(running);
          void running.then(() => pumps.delete(running));
        }
      }
    } catch {
      // the listener closed
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    freeze() {
      thawed = new Promise((resolve) => (thaw = resolve));
    },
    thaw() {
      thaw();
      thawed = Promise.resolve();
    },
    async [Symbol.asyncDispose]() {
      thaw();
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by its pump
        }
      }
      await Promise.all(pumps);
    },
  };
}

if (minio) {
  const { hostname, port } = new URL(endpoint);
  const target = { hostname, port: Number(port || 9000) };

  Deno.test({
    name: "s3: ping of a service that stopped answering is down by its own deadline, then ready",
    ...SANITIZED,
    async fn() {
      await using link = relay(target);
      await using driver = new S3Storage(options({ endpoint: link.url }));
      await driver.connect();
      assert.deepEqual(await driver.ping(), { status: "ready" });
      link.freeze();
      // Over a kept-alive connection, then over new ones: neither answers.
      for (let i = 0; i < 2; i++) {
        const report = await driver.ping();
        assert.equal(report.status, "down");
        assert.match(report.detail ?? "", /did not answer within/);
      }
      link.thaw();
      assert.deepEqual(await driver.ping(), { status: "ready" });
    },
  });

  Deno.test({
    name: "s3: a frozen service turns the plugin degraded, and ready again once it answers",
    ...SANITIZED,
    async fn() {
      await using link = relay(target);
      await using app = await openApp(
        configYaml({
          storage: {
            backend: "s3",
            endpoint: link.url,
            bucket,
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
            forcePathStyle: true,
            createBucket: true,
            connectTimeout: "1500ms",
            idleTimeout: "5s",
            healthInterval: "100ms",
            reconnect: { initialDelay: "100ms", maxDelay: "200ms" },
            timeouts: { start: "5s", ready: "5s", stop: "5s" },
          },
        }),
        new Map([["storage", storagePlugin]]),
      );
      const plugin = app.lifecycle.get("storage")!;
      assert.equal(plugin.state, "ready");
      link.freeze();
      // The probe's own deadline decides, not the core's (longer) ready timeout.
      await waitFor(() => plugin.state === "degraded", "degraded", 20_000);
      assert.match(plugin.detail ?? "", /did not answer within/);
      const refused = await app.request("/v1/storage/objects/x");
      assert.equal(refused.status, 503);
      await refused.body?.cancel();
      link.thaw();
      await waitFor(() => plugin.state === "ready", "ready again", 20_000);
    },
  });
}
