/**
 * Another S3 client on the same bucket, behind edgebox's back: objects the AWS SDK writes with
 * `CacheControl`, `ContentDisposition`, `ContentEncoding`, `ContentLanguage` and `Expires` come
 * back through edgebox with those headers (and their bytes as stored), and objects written
 * through edgebox show them to the SDK. Runs when MinIO is reachable (required in CI).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { storagePlugin } from "../../plugins/storage/mod.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, type RunningApp, SANITIZED } from "../_helpers.ts";

const registry = new Map([["storage", storagePlugin]]);
const endpoint = Deno.env.get("S3_ENDPOINT") ?? "http://127.0.0.1:9000";
const bucket = Deno.env.get("S3_BUCKET") ?? "edgebox-test";
const credentials = {
  accessKeyId: Deno.env.get("S3_ACCESS_KEY") ?? "minioadmin",
  secretAccessKey: Deno.env.get("S3_SECRET_KEY") ?? "minioadmin",
};

const EXPIRES = "Fri, 01 Jan 2038 12:00:00 GMT";
const HEADERS = {
  "cache-control": "public, max-age=86400, must-revalidate",
  "content-disposition":
    `attachment; filename="data set.csv.gz"; filename*=UTF-8''donn%C3%A9es.csv.gz`,
  "content-encoding": "gzip",
  "content-language": "fr-CA, en",
  "expires": EXPIRES,
};
const gzipped = new Uint8Array(gzipSync(new TextEncoder().encode("id,value\n1,2\n".repeat(300))));

/** The other service: a plain SDK client, as any application would hold one. */
function otherClient(): S3Client {
  return new S3Client({
    endpoint,
    region: Deno.env.get("S3_REGION") ?? "us-east-1",
    forcePathStyle: true,
    credentials: { ...credentials },
    // Below the SDK's thresholds (2s, 6s) for deferring its socket timers by a timer of its
    // own, which would outlive a test and trip the ops sanitizer.
    requestHandler: { connectionTimeout: 1_500, socketTimeout: 5_000 },
  });
}

/** Edgebox (in-process) on the same bucket, and the SDK client beside it; cleans up both. */
async function openBoth(): Promise<
  AsyncDisposable & { app: RunningApp; sdk: S3Client; prefix: string }
> {
  const app = await openApp(
    configYaml({
      storage: {
        backend: "s3",
        endpoint,
        bucket,
        // Named one by one: the SDK marks the credentials objects it is given.
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        forcePathStyle: true,
        createBucket: true,
        connectTimeout: "1500ms",
        idleTimeout: "5s",
        healthInterval: "1h",
        timeouts: { start: "10s", ready: "10s", stop: "10s" },
      },
    }),
    registry,
  );
  const sdk = otherClient();
  const prefix = `interop-${crypto.randomUUID().slice(0, 8)}`;
  return {
    app,
    sdk,
    prefix,
    async [Symbol.asyncDispose]() {
      try {
        const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
        for (const object of page.Contents ?? []) {
          await sdk.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
        }
      } finally {
        sdk.destroy();
        await app.lifecycle.stop();
      }
    },
  };
}

function standardOf(response: Response): Record<string, string | null> {
  return Object.fromEntries(Object.keys(HEADERS).map((name) => [name, response.headers.get(name)]));
}

const minio = await realService("minio", endpoint, 9000);

if (minio) {
  Deno.test({
    name: "interop: an object the AWS SDK wrote with standard headers reads back with them",
    ...SANITIZED,
    async fn() {
      await using both = await openBoth();
      const { app, sdk, prefix } = both;
      const key = `${prefix}/from-sdk/data.csv.gz`;
      await sdk.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: gzipped,
          ContentType: "text/csv",
          CacheControl: HEADERS["cache-control"],
          ContentDisposition: HEADERS["content-disposition"],
          ContentEncoding: HEADERS["content-encoding"],
          ContentLanguage: HEADERS["content-language"],
          Expires: new Date(EXPIRES),
          Metadata: { origin: "sdk" },
        }),
      );

      const get = await app.request(`/v1/storage/objects/${key}`);
      assert.equal(get.status, 200);
      assert.deepEqual(standardOf(get), HEADERS);
      assert.equal(get.headers.get("content-type"), "text/csv");
      assert.equal(get.headers.get("x-meta-origin"), "sdk");
      assert.equal(get.headers.get("content-length"), String(gzipped.length));
      // Sent as stored: edgebox does not decode what the other client encoded.
      assert.deepEqual(new Uint8Array(await get.arrayBuffer()), gzipped);

      const head = await app.request(`/v1/storage/objects/${key}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.deepEqual(standardOf(head), HEADERS);

      const etag = get.headers.get("etag")!;
      const notModified = await app.request(`/v1/storage/objects/${key}`, {
        headers: { "if-none-match": etag },
      });
      assert.equal(notModified.status, 304);
      await notModified.body?.cancel();
      assert.equal(notModified.headers.get("cache-control"), HEADERS["cache-control"]);
      assert.equal(notModified.headers.get("expires"), EXPIRES);

      // A copy through edgebox keeps them, for edgebox and for the SDK alike.
      const copied = await app.request(`/v1/storage/objects/${key}/copy`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ to: `${prefix}/copy/data.csv.gz` }),
      });
      assert.equal(copied.status, 201, await copied.clone().text());
      await copied.body?.cancel();
      const copy = await sdk.send(
        new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/copy/data.csv.gz` }),
      );
      assert.equal(copy.CacheControl, HEADERS["cache-control"]);
      assert.equal(copy.ContentDisposition, HEADERS["content-disposition"]);
      assert.equal(copy.ContentEncoding, HEADERS["content-encoding"]);
      assert.equal(copy.ContentLanguage, HEADERS["content-language"]);
      assert.equal(copy.ExpiresString, EXPIRES);
      assert.equal(copy.ContentType, "text/csv");
      assert.deepEqual(copy.Metadata, { origin: "sdk" });
    },
  });

  Deno.test({
    name: "interop: an object written through edgebox shows its standard headers to the SDK",
    ...SANITIZED,
    async fn() {
      await using both = await openBoth();
      const { app, sdk, prefix } = both;
      const key = `${prefix}/from-edgebox/data.csv.gz`;
      const put = await app.request(`/v1/storage/objects/${key}`, {
        method: "PUT",
        body: gzipped,
        headers: { ...HEADERS, "content-type": "text/csv", "x-meta-origin": "edgebox" },
      });
      assert.equal(put.status, 201, await put.clone().text());
      await put.body?.cancel();

      const head = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.CacheControl, HEADERS["cache-control"]);
      assert.equal(head.ContentDisposition, HEADERS["content-disposition"]);
      assert.equal(head.ContentEncoding, HEADERS["content-encoding"]);
      assert.equal(head.ContentLanguage, HEADERS["content-language"]);
      assert.equal(head.ExpiresString, EXPIRES);
      assert.equal(head.Expires?.getTime(), Date.parse(EXPIRES));
      assert.equal(head.ContentType, "text/csv");
      assert.deepEqual(head.Metadata, { origin: "edgebox" });

      const get = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(get.ContentEncoding, "gzip");
      assert.deepEqual(await get.Body!.transformToByteArray(), gzipped);
    },
  });

  Deno.test({
    name: "interop: an object the SDK wrote without standard headers reads back without them",
    ...SANITIZED,
    async fn() {
      await using both = await openBoth();
      const { app, sdk, prefix } = both;
      const key = `${prefix}/bare`;
      await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "bare" }));
      const head = await app.request(`/v1/storage/objects/${key}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.deepEqual(
        standardOf(head),
        Object.fromEntries(Object.keys(HEADERS).map((name) => [name, null])),
      );
    },
  });
}
