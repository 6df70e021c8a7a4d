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
import { S3Storage, type S3StorageOptions } from "../../plugins/storage/s3.ts";
import { sleep } from "../../core/timing.ts";
import { realService } from "./_services.ts";
import {
  digestOf,
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
    async partialUploads(prefix) {
      prefixes.add(prefix);
      const out = await admin.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }),
      );
      return out.Uploads?.length ?? 0;
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
    async fn() {
      const prefix = uniquePrefix();
      const admin = adminClient();
      try {
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
      } finally {
        await removeAll(admin, prefix);
        admin.destroy();
      }
    },
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
