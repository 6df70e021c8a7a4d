/**
 * The s3 driver's upload writer (`uploadStream`) against a fake S3 service behind the real SDK
 * client (a request handler of our own, no network): the memory bound of its part pool, what it
 * sends for one part and for many, and what it leaves behind when the body or a part fails.
 */
import assert from "node:assert/strict";
import { S3Client } from "@aws-sdk/client-s3";
import { PartPool, uploadStream } from "../../plugins/storage/s3_multipart.ts";
import { SANITIZED } from "../_helpers.ts";

const encoder = new TextEncoder();

interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** One request the fake service answered (or refused). */
interface Received {
  operation: "PutObject" | "Create" | "UploadPart" | "Complete" | "Abort";
  partNumber?: number;
  headers: Record<string, string>;
  /** A copy of the body, taken when the request arrived (the writer reuses its buffers). */
  bytes?: Uint8Array;
}

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/**
 * An S3 service in memory: parts answer in a shuffled order (each after a few event-loop turns),
 * the parts in flight are counted, and any part can be made to fail.
 */
class FakeS3 {
  readonly received: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failPart: number | undefined;
  readonly #next = random(7);

  operations(): string[] {
    return this.received.map((r) => r.operation);
  }

  /** The object the parts make, in part order. */
  assembled(): Uint8Array {
    const parts = this.received.filter((r) => r.operation === "UploadPart")
      .sort((a, b) => a.partNumber! - b.partNumber!);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.bytes!.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part.bytes!, at);
      at += part.bytes!.length;
    }
    return out;
  }

  async handle(
    request: FakeRequest,
    options?: { abortSignal?: AbortSignal },
  ): Promise<
    { response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }
  > {
    const query = request.query ?? {};
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const bytes = request.body instanceof Uint8Array ? request.body.slice() : undefined;
    if ("uploads" in query) {
      this.received.push({ operation: "Create", headers });
      return xml(
        "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>" +
          "<UploadId>upload-1</UploadId></InitiateMultipartUploadResult>",
      );
    }
    if (request.method === "PUT" && "partNumber" in query) {
      const partNumber = Number(query.partNumber);
      this.received.push({ operation: "UploadPart", partNumber, headers, ...bytes && { bytes } });
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        // Answer after a few turns of the event loop: parts settle out of order.
        for (let turns = Math.floor(this.#next() * 4); turns > 0; turns--) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (options?.abortSignal?.aborted) throw abortError();
        }
      } finally {
        this.inFlight--;
      }
      if (partNumber === this.failPart) return answer(500, xmlError("InternalError"));
      return answer(200, new Uint8Array(0), { etag: `"part-${partNumber}"` });
    }
    if (request.method === "POST" && "uploadId" in query) {
      this.received.push({ operation: "Complete", headers, ...bytes && { bytes } });
      if (headers["if-none-match"] === "*") return answer(412, xmlError("PreconditionFailed"));
      return xml(
        "<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>" +
          '<ETag>"multipart-etag"</ETag></CompleteMultipartUploadResult>',
      );
    }
    if (request.method === "DELETE" && "uploadId" in query) {
      this.received.push({ operation: "Abort", headers });
      return answer(204, new Uint8Array(0));
    }
    this.received.push({ operation: "PutObject", headers, ...bytes && { bytes } });
    return answer(200, new Uint8Array(0), { etag: '"single-etag"' });
  }
}

function answer(statusCode: number, body: Uint8Array, headers: Record<string, string> = {}) {
  return { response: { statusCode, headers, body } };
}

function xml(text: string) {
  return answer(200, encoder.encode(`<?xml version="1.0" encoding="UTF-8"?>${text}`), {
    "content-type": "application/xml",
  });
}

function xmlError(code: string): Uint8Array {
  return encoder.encode(`<?xml version="1.0"?><Error><Code>${code}</Code></Error>`);
}

function abortError(): Error {
  const error = new Error("The request was aborted");
  error.name = "AbortError";
  return error;
}

/** The real SDK client, talking to `fake` instead of the network. */
function clientOf(fake: FakeS3): S3Client & Disposable {
  const client = new S3Client({
    region: "us-east-1",
    endpoint: "http://fake.invalid",
    forcePathStyle: true,
    credentials: { accessKeyId: "key", secretAccessKey: "secret" },
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      handle: (request: FakeRequest, options?: { abortSignal?: AbortSignal }) =>
        fake.handle(request, options),
    } as never,
  });
  return Object.assign(client, { [Symbol.dispose]: () => client.destroy() });
}

/** `size` bytes of a repeating pattern. */
function bytesOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

/** `bytes` as a stream of fresh chunks of uneven sizes (1 byte to 3 parts), then its end. */
function unevenStream(bytes: Uint8Array, maxChunk: number): ReadableStream<Uint8Array> {
  const next = random(42);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const size = 1 + Math.floor(next() * maxChunk);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  }, { highWaterMark: 0 });
}

/** A stream of `bytes` that fails with `error` instead of ending. */
function failingAfter(bytes: Uint8Array, error: Error): ReadableStream<Uint8Array> {
  let sent = false;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) controller.error(error);
      else controller.enqueue(bytes.slice());
      sent = true;
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return Object.assign(stream, { wasCancelled: () => cancelled });
}

const base = { bucket: "b", key: "k", params: { ContentType: "application/x-test", Metadata: {} } };

Deno.test({
  name: "uploadStream never holds more than concurrency + 1 part buffers, nor sends more parts",
  ...SANITIZED,
  async fn() {
    for (const concurrency of [1, 2, 4]) {
      const fake = new FakeS3();
      using client = clientOf(fake);
      // A pool far larger than needed: the bound must come from the writer, not from waiting.
      const pool = new PartPool(1024, 100);
      const body = bytesOf(50 * 1024 + 17);
      const written = await uploadStream(unevenStream(body, 3000), {
        ...base,
        client,
        partSize: 1024,
        concurrency,
        pool,
      });
      assert.ok(pool.made <= concurrency + 1, `${pool.made} buffers for ${concurrency}`);
      assert.ok(fake.maxInFlight <= concurrency, `${fake.maxInFlight} parts in flight`);
      assert.equal(pool.inUse, 0, "every buffer went back to the pool");
      assert.equal(written.parts, 51);
      assert.equal(written.size, body.length);
      assert.equal(written.etag, '"multipart-etag"');
      assert.deepEqual(fake.assembled(), body);
      pool.close();
    }
  },
});

Deno.test({
  name: "a part pool makes at most its capacity, and a further acquire waits for a release",
  ...SANITIZED,
  async fn() {
    const pool = new PartPool(16, 2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    let third: Uint8Array | undefined;
    const waiting = pool.acquire().then((buffer) => (third = buffer));
    await Promise.resolve();
    assert.equal(third, undefined);
    assert.equal(pool.made, 2);
    pool.release(a);
    await waiting;
    assert.equal(third, a, "the released buffer is handed out again");
    assert.equal(pool.made, 2);
    const refused = pool.acquire();
    pool.close();
    await assert.rejects(refused, /closed/);
    pool.release(b);
    pool.release(third!);
    assert.equal(b.length, 0, "a buffer released after close is freed at once");
  },
});

Deno.test({
  name: "uploadStream sends a body that fits in one part as one PutObject with its conditions",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const body = bytesOf(1024);
    const written = await uploadStream(unevenStream(body, 100), {
      ...base,
      client,
      partSize: 1024,
      concurrency: 2,
      conditions: { IfNoneMatch: "*" },
    });
    assert.deepEqual(fake.operations(), ["PutObject"]);
    assert.deepEqual(fake.received[0]!.bytes, body);
    assert.equal(fake.received[0]!.headers["if-none-match"], "*");
    assert.equal(fake.received[0]!.headers["content-type"], "application/x-test");
    assert.deepEqual(written, { etag: '"single-etag"', size: 1024, parts: 0 });
  },
});

Deno.test({
  name: "uploadStream sends an empty body as one empty PutObject",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const written = await uploadStream(new Blob([]).stream(), {
      ...base,
      client,
      partSize: 1024,
      concurrency: 2,
    });
    assert.deepEqual(fake.operations(), ["PutObject"]);
    assert.equal(written.size, 0);
  },
});

Deno.test({
  name: "a body ending on a part boundary sends no empty last part",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const body = bytesOf(3 * 1024);
    const written = await uploadStream(unevenStream(body, 700), {
      ...base,
      client,
      partSize: 1024,
      concurrency: 2,
    });
    assert.equal(written.parts, 3);
    assert.deepEqual(
      fake.received.filter((r) => r.operation === "UploadPart").map((r) => r.bytes!.length),
      [1024, 1024, 1024],
    );
    assert.deepEqual(fake.assembled(), body);
  },
});

Deno.test({
  name: "a multipart upload's conditions go to CompleteMultipartUpload, which may refuse it",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const error = await uploadStream(unevenStream(bytesOf(4000), 500), {
      ...base,
      client,
      partSize: 1024,
      concurrency: 2,
      conditions: { IfNoneMatch: "*" },
    }).then(() => undefined, (error: unknown) => error);
    assert.equal(
      (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
      412,
    );
    const create = fake.received.find((r) => r.operation === "Create")!;
    assert.equal(create.headers["if-none-match"], undefined);
    assert.equal(create.headers["content-type"], "application/x-test");
    assert.deepEqual(fake.operations().slice(-2), ["Complete", "Abort"]);
  },
});

Deno.test({
  name: "a failing part aborts the upload once every part settled, and cancels the body",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    fake.failPart = 3;
    using client = clientOf(fake);
    let cancelled = false;
    const source = unevenStream(bytesOf(40 * 1024), 2000);
    const reader = source.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    await assert.rejects(
      uploadStream(body, { ...base, client, partSize: 1024, concurrency: 3 }),
      (error: { name?: string }) => error.name === "InternalError",
    );
    const operations = fake.operations();
    assert.equal(operations.at(-1), "Abort");
    assert.equal(operations.filter((o) => o === "Abort").length, 1);
    assert.ok(!operations.includes("Complete"));
    assert.equal(fake.inFlight, 0, "no part was still in flight when the upload was aborted");
    assert.ok(cancelled, "the body was cancelled");
    assert.ok(fake.received.filter((r) => r.operation === "UploadPart").length < 40);
  },
});

Deno.test({
  name: "a body failing mid-way aborts the upload and rethrows the body's error",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const cut = new Error("client hung up");
    await assert.rejects(
      uploadStream(failingAfter(bytesOf(5000), cut), {
        ...base,
        client,
        partSize: 1024,
        concurrency: 2,
      }),
      (error) => error === cut,
    );
    assert.deepEqual(fake.operations().filter((o) => o !== "UploadPart"), ["Create", "Abort"]);
  },
});

Deno.test({
  name: "chunks that are whole buffers are released once copied; views are left alone",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const whole = bytesOf(3000);
    const shared = bytesOf(4096);
    const view = shared.subarray(100, 2100);
    const chunks = [whole, view];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
    }, { highWaterMark: 0 });
    const written = await uploadStream(body, {
      ...base,
      client,
      partSize: 1024,
      concurrency: 2,
      releaseChunks: true,
    });
    assert.equal(written.size, 5000);
    assert.equal(whole.length, 0, "the whole-buffer chunk was released");
    assert.equal(shared.length, 4096, "the buffer behind a view is untouched");
    assert.deepEqual(
      fake.assembled(),
      new Uint8Array([...bytesOf(3000), ...shared.subarray(100, 2100)]),
    );
  },
});

Deno.test({
  name: "a producer that sends a released chunk again fails the upload instead of storing a hole",
  ...SANITIZED,
  async fn() {
    const fake = new FakeS3();
    using client = clientOf(fake);
    const chunk = bytesOf(600);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 3) controller.enqueue(chunk);
        else controller.close();
      },
    }, { highWaterMark: 0 });
    await assert.rejects(
      uploadStream(body, { ...base, client, partSize: 1024, concurrency: 2, releaseChunks: true }),
      (error: { code?: string }) => error.code === "storage.body_incomplete",
    );
    assert.ok(!fake.operations().includes("PutObject"));
    assert.ok(!fake.operations().includes("Complete"));
  },
});
