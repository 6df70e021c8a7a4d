/**
 * The storage contract: what every storage driver must do, written once and run against each
 * (filesystem always, S3 when MinIO is reachable). Each test gets its own key prefix, and the
 * target removes everything under it when disposed, so runs never collide.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { StorageDriver, StoredHeaders } from "../../plugins/storage/driver.ts";

/** A driver under test, plus what only its backend can tell. */
export interface StorageTarget extends AsyncDisposable {
  driver: StorageDriver;
  /** Uploads under `prefix` begun but neither committed nor cleaned up (temp files, multipart). */
  partialUploads(prefix: string): Promise<number>;
}

/** Overrides a test may ask its target for. */
export interface TargetOptions {
  maxObjectSize?: number;
}

/** Opens a connected target; the suite disposes it. */
export type OpenStorageTarget = (options?: TargetOptions) => Promise<StorageTarget>;

/** Options that turn Deno's ops and resources sanitizers on. */
const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;

const MiB = 2 ** 20;
const runId = `contract-${crypto.randomUUID().slice(0, 8)}`;
let testNumber = 0;

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(): string {
  return `${runId}/t${++testNumber}`;
}

/** A stream of `bytes` in chunks of `chunkSize`. */
export function streamOf(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** `size` random bytes generated as they are read, and their SHA-256 once the stream ended. */
export function generatedStream(
  size: number,
  chunkSize = 64 * 1024,
): { stream: ReadableStream<Uint8Array>; sha256: () => string } {
  const hash = createHash("sha256");
  let produced = 0;
  let digest = "";
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (produced >= size) {
        digest = hash.digest("hex");
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(chunkSize, size - produced));
      for (let at = 0; at < chunk.length; at += 65_536) {
        crypto.getRandomValues(chunk.subarray(at, at + 65_536));
      }
      hash.update(chunk);
      produced += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { stream, sha256: () => digest };
}

/** A stream that sends `bytes` bytes and then fails, like a client that hung up. */
export function failingStream(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) {
        controller.error(new Error("client hung up"));
        return;
      }
      const chunk = new Uint8Array(Math.min(64 * 1024, bytes - sent)).fill(7);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

/** Reads a stream to its end. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** SHA-256 (hex) and length of a stream, read without holding it. */
export async function digestOf(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Asserts `promise` rejects with an error whose `code` is `code`; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
): Promise<Record<string, unknown>> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.equal((caught as { code?: string }).code, code, String(caught));
  return caught as Record<string, unknown>;
}

const text = (value: string) => new TextEncoder().encode(value);

/** One value of each standard header a write may store, as other S3 clients set them. */
export const STANDARD_HEADERS: Required<StoredHeaders> = {
  cacheControl: "public, max-age=31536000, immutable",
  contentDisposition: `attachment; filename="report 2026.txt"; filename*=UTF-8''r%C3%A9port.txt`,
  contentEncoding: "gzip",
  contentLanguage: "en-GB, de",
  expires: "Wed, 21 Oct 2026 07:28:00 GMT",
};

/** Registers the contract tests for one driver. */
export function runStorageContract(name: string, open: OpenStorageTarget): void {
  const test = (
    title: string,
    fn: (target: StorageTarget, prefix: string) => Promise<void>,
    options?: TargetOptions,
  ) =>
    Deno.test({
      name: `${name}: ${title}`,
      ...SANITIZED,
      async fn() {
        await using target = await open(options);
        await fn(target, uniquePrefix());
      },
    });

  async function roundTrip(driver: StorageDriver, key: string, bytes: Uint8Array) {
    const written = await driver.put(key, streamOf(bytes));
    assert.equal(written.size, bytes.length);
    const result = await driver.get(key);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(result.info.size, bytes.length);
    assert.deepEqual(await readAll(result.body), bytes);
  }

  // --- Round trips -----------------------------------------------------------------------------

  test("stores and returns an empty object", async ({ driver }, prefix) => {
    await roundTrip(driver, `${prefix}/empty`, new Uint8Array(0));
  });

  test("stores and returns a 1-byte object", async ({ driver }, prefix) => {
    await roundTrip(driver, `${prefix}/one`, new Uint8Array([0xff]));
  });

  test(
    "stores and returns 5 MiB + 1 bytes (across a part boundary)",
    async ({ driver }, prefix) => {
      const big = new Uint8Array(5 * MiB + 1);
      for (let at = 0; at < big.length; at += 65_536) {
        crypto.getRandomValues(big.subarray(at, at + 65_536));
      }
      await roundTrip(driver, `${prefix}/five`, big);
    },
  );

  test("streams 100 MiB in and out with exact bytes", async ({ driver }, prefix) => {
    const source = generatedStream(100 * MiB, 256 * 1024);
    const written = await driver.put(`${prefix}/hundred`, source.stream);
    assert.equal(written.size, 100 * MiB);
    const result = await driver.get(`${prefix}/hundred`);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.deepEqual(await digestOf(result.body), { sha256: source.sha256(), size: 100 * MiB });
  });

  test("keeps content type and metadata", async ({ driver }, prefix) => {
    const key = `${prefix}/typed`;
    await driver.put(key, streamOf(text("{}")), {
      contentType: "application/json",
      metadata: { owner: "ci", "build-id": "42" },
    });
    const info = await driver.head(key);
    assert.equal(info.contentType, "application/json");
    assert.deepEqual(info.metadata, { owner: "ci", "build-id": "42" });
    const result = await driver.get(key);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(result.info.contentType, "application/json");
    assert.deepEqual(result.info.metadata, { owner: "ci", "build-id": "42" });
    await result.body.cancel();
  });

  // --- Stored standard headers ----------------------------------------------------------------

  /** Asserts head and get both report exactly `expected` as the object's stored headers. */
  async function assertStoredHeaders(
    driver: StorageDriver,
    key: string,
    expected: StoredHeaders,
  ): Promise<void> {
    assert.deepEqual((await driver.head(key)).headers, expected, `head ${key}`);
    const result = await driver.get(key);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    await result.body.cancel();
    assert.deepEqual(result.info.headers, expected, `get ${key}`);
  }

  test("stores each standard header alone and returns only it", async ({ driver }, prefix) => {
    for (const [field, value] of Object.entries(STANDARD_HEADERS)) {
      const key = `${prefix}/${field}`;
      await driver.put(key, streamOf(text("x")), { headers: { [field]: value } });
      await assertStoredHeaders(driver, key, { [field]: value });
    }
  });

  test("an object written without standard headers has none", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/plain`, streamOf(text("x")), { contentType: "text/plain" });
    await assertStoredHeaders(driver, `${prefix}/plain`, {});
    await driver.put(`${prefix}/empty`, streamOf(text("x")), { headers: {} });
    await assertStoredHeaders(driver, `${prefix}/empty`, {});
  });

  test(
    "stores every standard header together; a gzip body comes back as stored, not decoded",
    async ({ driver }, prefix) => {
      const key = `${prefix}/all.txt.gz`;
      const gzipped = gzipSync(text("hello, edgebox\n".repeat(64)));
      await driver.put(key, streamOf(gzipped), {
        contentType: "text/plain",
        metadata: { owner: "ci" },
        headers: STANDARD_HEADERS,
      });
      await assertStoredHeaders(driver, key, STANDARD_HEADERS);
      const info = await driver.head(key);
      assert.equal(info.size, gzipped.length);
      assert.equal(info.contentType, "text/plain");
      assert.deepEqual(info.metadata, { owner: "ci" });
      const result = await driver.get(key);
      assert.equal(result.kind, "body");
      if (result.kind !== "body") return;
      assert.deepEqual(await readAll(result.body), new Uint8Array(gzipped));
      const part = await driver.get(key, { range: { start: 0, end: 1 } });
      assert.equal(part.kind, "body");
      if (part.kind !== "body") return;
      // The gzip magic number: ranges count the stored (encoded) bytes.
      assert.deepEqual(await readAll(part.body), new Uint8Array([0x1f, 0x8b]));
      assert.deepEqual(part.info.headers, STANDARD_HEADERS);
    },
  );

  test("an overwrite replaces the stored headers", async ({ driver }, prefix) => {
    const key = `${prefix}/o`;
    await driver.put(key, streamOf(text("1")), { headers: STANDARD_HEADERS });
    await driver.put(key, streamOf(text("2")), { headers: { cacheControl: "no-store" } });
    await assertStoredHeaders(driver, key, { cacheControl: "no-store" });
    await driver.put(key, streamOf(text("3")));
    await assertStoredHeaders(driver, key, {});
  });

  test("stored headers survive an upload in several parts", async ({ driver }, prefix) => {
    const key = `${prefix}/big`;
    const source = generatedStream(5 * MiB + 1);
    await driver.put(key, source.stream, { headers: STANDARD_HEADERS });
    await assertStoredHeaders(driver, key, STANDARD_HEADERS);
  });

  test("a copy keeps the stored headers, conditional or not", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/src`, streamOf(text("payload")), { headers: STANDARD_HEADERS });
    await driver.copy(`${prefix}/src`, `${prefix}/plain`);
    await assertStoredHeaders(driver, `${prefix}/plain`, STANDARD_HEADERS);
    await driver.copy(`${prefix}/src`, `${prefix}/guarded`, { conditions: { ifNoneMatch: "*" } });
    await assertStoredHeaders(driver, `${prefix}/guarded`, STANDARD_HEADERS);
    await driver.put(`${prefix}/empty`, streamOf(new Uint8Array(0)), {
      headers: { contentDisposition: "inline", expires: STANDARD_HEADERS.expires },
    });
    await driver.copy(`${prefix}/empty`, `${prefix}/empty-copy`, {
      conditions: { ifNoneMatch: "*" },
    });
    await assertStoredHeaders(driver, `${prefix}/empty-copy`, {
      contentDisposition: "inline",
      expires: STANDARD_HEADERS.expires,
    });
    await driver.put(`${prefix}/bare`, streamOf(text("bare")));
    await driver.copy(`${prefix}/bare`, `${prefix}/plain`);
    await assertStoredHeaders(driver, `${prefix}/plain`, {});
  });

  test(
    "a read answered not_modified repeats Cache-Control and Expires",
    async ({ driver }, prefix) => {
      const key = `${prefix}/c`;
      const { etag } = await driver.put(key, streamOf(text("cached")), {
        headers: STANDARD_HEADERS,
      });
      const result = await driver.get(key, { conditions: { ifNoneMatch: [etag] } });
      assert.equal(result.kind, "not_modified");
      if (result.kind !== "not_modified") return;
      assert.equal(result.headers.cacheControl, STANDARD_HEADERS.cacheControl);
      assert.equal(result.headers.expires, STANDARD_HEADERS.expires);
    },
  );

  test("head reports the size and ETag put returned", async ({ driver }, prefix) => {
    const written = await driver.put(`${prefix}/h`, streamOf(text("hello")));
    const info = await driver.head(`${prefix}/h`);
    assert.equal(info.size, 5);
    assert.equal(info.etag, written.etag);
    assert.match(info.etag, /^"[^"]+"$/);
    assert.ok(Math.abs(info.lastModified.getTime() - Date.now()) < 60_000);
  });

  test(
    "accepts keys with spaces, unicode, percent signs and inner dots",
    async ({ driver }, prefix) => {
      const key = `${prefix}/with space/ünïcödé 😀/100%/a..b/.hidden/%20`;
      await roundTrip(driver, key, text("odd"));
    },
  );

  test("holds an object and objects below its key side by side", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/a`, streamOf(text("file")));
    await driver.put(`${prefix}/a/b`, streamOf(text("below")));
    assert.equal((await driver.head(`${prefix}/a`)).size, 4);
    assert.equal((await driver.head(`${prefix}/a/b`)).size, 5);
  });

  // --- Overwrite and If-None-Match -------------------------------------------------------------

  test("an overwrite replaces content, type and metadata", async ({ driver }, prefix) => {
    const key = `${prefix}/o`;
    const first = await driver.put(key, streamOf(text("first")), {
      contentType: "text/plain",
      metadata: { v: "1" },
    });
    const second = await driver.put(key, streamOf(text("second!")), {
      contentType: "text/csv",
      metadata: { w: "2" },
    });
    assert.notEqual(second.etag, first.etag);
    const result = await driver.get(key);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(new TextDecoder().decode(await readAll(result.body)), "second!");
    assert.equal(result.info.contentType, "text/csv");
    assert.deepEqual(result.info.metadata, { w: "2" });
  });

  test("If-None-Match: * refuses to overwrite and keeps the object", async ({ driver }, prefix) => {
    const key = `${prefix}/keep`;
    await driver.put(key, streamOf(text("original")));
    await rejectsWith(
      driver.put(key, streamOf(text("replacement")), { conditions: { ifNoneMatch: "*" } }),
      "storage.precondition_failed",
    );
    const result = await driver.get(key);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(new TextDecoder().decode(await readAll(result.body)), "original");
  });

  test("If-None-Match: * creates an object that does not exist", async ({ driver }, prefix) => {
    const written = await driver.put(`${prefix}/new`, streamOf(text("x")), {
      conditions: { ifNoneMatch: "*" },
    });
    assert.equal(written.size, 1);
  });

  // --- Ranges ----------------------------------------------------------------------------------

  const hundred = Uint8Array.from({ length: 100 }, (_, i) => i);
  const rangeTest = (
    title: string,
    range: { start: number; end?: number } | { suffix: number },
    expected: { start: number; end: number },
  ) =>
    test(title, async ({ driver }, prefix) => {
      await driver.put(`${prefix}/r`, streamOf(hundred));
      const result = await driver.get(`${prefix}/r`, { range });
      assert.equal(result.kind, "body");
      if (result.kind !== "body") return;
      assert.deepEqual(result.range, expected);
      assert.equal(result.info.size, 100);
      assert.deepEqual(await readAll(result.body), hundred.slice(expected.start, expected.end + 1));
    });

  rangeTest("a range from the start returns those bytes", { start: 0, end: 9 }, {
    start: 0,
    end: 9,
  });
  rangeTest("a range in the middle returns those bytes", { start: 40, end: 59 }, {
    start: 40,
    end: 59,
  });
  rangeTest("a suffix range returns the last bytes", { suffix: 7 }, { start: 93, end: 99 });
  rangeTest("a suffix longer than the object returns all of it", { suffix: 500 }, {
    start: 0,
    end: 99,
  });
  rangeTest("an open-ended range runs to the end", { start: 90 }, { start: 90, end: 99 });
  rangeTest("a range past the end is clamped to the end", { start: 95, end: 1000 }, {
    start: 95,
    end: 99,
  });

  test("a range starting past the end is not satisfiable", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/r`, streamOf(hundred));
    const error = await rejectsWith(
      driver.get(`${prefix}/r`, { range: { start: 100 } }),
      "storage.range_not_satisfiable",
    );
    assert.deepEqual((error as { headers?: unknown }).headers, { "Content-Range": "bytes */100" });
  });

  test("any range of an empty object is not satisfiable", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/empty`, streamOf(new Uint8Array(0)));
    await rejectsWith(
      driver.get(`${prefix}/empty`, { range: { start: 0 } }),
      "storage.range_not_satisfiable",
    );
  });

  // --- Conditional writes (RFC 9110 section 13) --------------------------------------------------

  /** The object's bytes as text, or `undefined` when there is none. */
  async function contentOf(driver: StorageDriver, key: string): Promise<string | undefined> {
    try {
      const result = await driver.get(key);
      if (result.kind !== "body") throw new Error("unexpected not_modified");
      return new TextDecoder().decode(await readAll(result.body));
    } catch (error) {
      if ((error as { code?: string }).code === "storage.not_found") return undefined;
      throw error;
    }
  }

  /** Asserts a precondition failure naming `field`. */
  async function failsOn(promise: Promise<unknown>, field: string): Promise<void> {
    const error = await rejectsWith(promise, "storage.precondition_failed");
    assert.equal(error.field, field);
  }

  test(
    "a put with If-Match of another ETag is refused and keeps the object",
    async ({ driver }, prefix) => {
      const key = `${prefix}/o`;
      await driver.put(key, streamOf(text("first")));
      await failsOn(
        driver.put(key, streamOf(text("second")), { conditions: { ifMatch: ['"bogus"'] } }),
        "header.if-match",
      );
      assert.equal(await contentOf(driver, key), "first");
    },
  );

  test(
    "a put with If-Match of the current ETag replaces the object",
    async ({ driver }, prefix) => {
      const key = `${prefix}/o`;
      const { etag } = await driver.put(key, streamOf(text("first")));
      await driver.put(key, streamOf(text("second")), { conditions: { ifMatch: [etag] } });
      assert.equal(await contentOf(driver, key), "second");
      await driver.put(key, streamOf(text("third")), {
        conditions: { ifMatch: ['"x"', `W/"y"`, (await driver.head(key)).etag] },
      });
      assert.equal(await contentOf(driver, key), "third");
    },
  );

  test(
    "a put with If-Match on a missing key is refused and creates nothing",
    async ({ driver }, prefix) => {
      for (const ifMatch of ["*", ['"bogus"']] as const) {
        await failsOn(
          driver.put(`${prefix}/none`, streamOf(text("x")), { conditions: { ifMatch } }),
          "header.if-match",
        );
      }
      assert.equal(await contentOf(driver, `${prefix}/none`), undefined);
    },
  );

  test(
    "a put with If-None-Match of the current ETag (weakly) is refused",
    async ({ driver }, prefix) => {
      const key = `${prefix}/o`;
      const { etag } = await driver.put(key, streamOf(text("first")));
      await failsOn(
        driver.put(key, streamOf(text("second")), {
          conditions: { ifNoneMatch: ['"x"', `W/${etag}`] },
        }),
        "header.if-none-match",
      );
      await driver.put(key, streamOf(text("third")), { conditions: { ifNoneMatch: ['"x"'] } });
      assert.equal(await contentOf(driver, key), "third");
    },
  );

  test(
    "a put with If-Unmodified-Since before the last change is refused",
    async ({ driver }, prefix) => {
      const key = `${prefix}/o`;
      await driver.put(key, streamOf(text("first")));
      const { lastModified } = await driver.head(key);
      await failsOn(
        driver.put(key, streamOf(text("second")), {
          conditions: { ifUnmodifiedSince: new Date(lastModified.getTime() - 60_000) },
        }),
        "header.if-unmodified-since",
      );
      await driver.put(key, streamOf(text("third")), {
        conditions: { ifUnmodifiedSince: new Date(lastModified.getTime() + 60_000) },
      });
      assert.equal(await contentOf(driver, key), "third");
    },
  );

  test(
    "a multipart-sized put with a stale If-Match is refused and keeps the object",
    async ({ driver, partialUploads }, prefix) => {
      const key = `${prefix}/big`;
      await driver.put(key, streamOf(text("small")));
      await failsOn(
        driver.put(key, generatedStream(6 * MiB).stream, { conditions: { ifMatch: ['"bogus"'] } }),
        "header.if-match",
      );
      assert.equal(await contentOf(driver, key), "small");
      assert.equal(await partialUploads(prefix), 0);
    },
  );

  test(
    "a put whose condition stops holding while its body streams is refused",
    async ({ driver }, prefix) => {
      // The check and the write are one step: another writer that gets in between (here, while
      // this upload's body is still being read) makes this write fail instead of being lost.
      const cases = [
        {
          ifMatch: "current",
          intrude: (key: string) => driver.put(key, streamOf(text("intruder"))),
        },
        { ifMatch: "*", intrude: (key: string) => driver.delete(key) },
        { ifNoneMatch: "*", intrude: (key: string) => driver.put(key, streamOf(text("intruder"))) },
      ] as const;
      for (const [i, { intrude, ...asked }] of cases.entries()) {
        const key = `${prefix}/race${i}`;
        let etag = "";
        if (!("ifNoneMatch" in asked)) etag = (await driver.put(key, streamOf(text("v1")))).etag;
        const conditions = "ifNoneMatch" in asked
          ? { ifNoneMatch: "*" as const }
          : { ifMatch: asked.ifMatch === "*" ? "*" as const : [etag] };
        const expected = "ifMatch" in asked && asked.ifMatch === "*" ? undefined : "intruder";
        let sent = false;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent) return controller.close();
            sent = true;
            await intrude(key);
            controller.enqueue(text("late"));
          },
        });
        await rejectsWith(driver.put(key, body, { conditions }), "storage.precondition_failed");
        assert.equal(await contentOf(driver, key), expected);
      }
    },
  );

  test(
    "a delete with If-Match of another ETag is refused and keeps the object",
    async ({ driver }, prefix) => {
      const key = `${prefix}/d`;
      const { etag } = await driver.put(key, streamOf(text("kept")));
      await failsOn(
        driver.delete(key, { conditions: { ifMatch: ['"bogus"'] } }),
        "header.if-match",
      );
      assert.equal(await contentOf(driver, key), "kept");
      await failsOn(
        driver.delete(key, { conditions: { ifNoneMatch: [etag] } }),
        "header.if-none-match",
      );
      await driver.delete(key, { conditions: { ifMatch: [etag] } });
      assert.equal(await contentOf(driver, key), undefined);
    },
  );

  test(
    "a delete with If-Match of a missing object is refused; If-None-Match: * passes",
    async ({ driver }, prefix) => {
      await failsOn(
        driver.delete(`${prefix}/none`, { conditions: { ifMatch: "*" } }),
        "header.if-match",
      );
      await driver.delete(`${prefix}/none`, { conditions: { ifNoneMatch: "*" } });
    },
  );

  test("a copy checks its conditions against the destination", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/src`, streamOf(text("source")), {
      contentType: "text/plain",
      metadata: { m: "1" },
    });
    const { etag } = await driver.put(`${prefix}/dst`, streamOf(text("destination")));
    await failsOn(
      driver.copy(`${prefix}/src`, `${prefix}/dst`, { conditions: { ifNoneMatch: "*" } }),
      "header.if-none-match",
    );
    await failsOn(
      driver.copy(`${prefix}/src`, `${prefix}/dst`, { conditions: { ifMatch: ['"bogus"'] } }),
      "header.if-match",
    );
    await failsOn(
      driver.copy(`${prefix}/src`, `${prefix}/none`, { conditions: { ifMatch: "*" } }),
      "header.if-match",
    );
    assert.equal(await contentOf(driver, `${prefix}/dst`), "destination");
    assert.equal(await contentOf(driver, `${prefix}/none`), undefined);
    const copied = await driver.copy(`${prefix}/src`, `${prefix}/dst`, {
      conditions: { ifMatch: [etag] },
    });
    assert.equal(copied.size, 6);
    const info = await driver.head(`${prefix}/dst`);
    assert.equal(info.etag, copied.etag);
    assert.equal(info.contentType, "text/plain");
    assert.deepEqual(info.metadata, { m: "1" });
    assert.equal(await contentOf(driver, `${prefix}/dst`), "source");
    await driver.copy(`${prefix}/src`, `${prefix}/new`, { conditions: { ifNoneMatch: "*" } });
    assert.equal(await contentOf(driver, `${prefix}/new`), "source");
  });

  test("a conditional copy of an empty object", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/src`, streamOf(new Uint8Array(0)), { contentType: "text/plain" });
    const copied = await driver.copy(`${prefix}/src`, `${prefix}/dst`, {
      conditions: { ifNoneMatch: "*" },
    });
    assert.equal(copied.size, 0);
    assert.equal((await driver.head(`${prefix}/dst`)).contentType, "text/plain");
  });

  test(
    "a copy of a missing source is not_found whatever the destination's conditions",
    async ({ driver }, prefix) => {
      await rejectsWith(
        driver.copy(`${prefix}/none`, `${prefix}/dst`, { conditions: { ifMatch: "*" } }),
        "storage.not_found",
      );
    },
  );

  // --- Conditional reads -----------------------------------------------------------------------

  test(
    "a read with If-Match of another ETag is refused, before If-None-Match",
    async ({ driver }, prefix) => {
      const key = `${prefix}/c`;
      const { etag } = await driver.put(key, streamOf(text("conditional")));
      await failsOn(
        driver.get(key, { conditions: { ifMatch: ['"bogus"'], ifNoneMatch: [etag] } }),
        "header.if-match",
      );
      await failsOn(
        driver.get(key, { conditions: { ifUnmodifiedSince: new Date(0) } }),
        "header.if-unmodified-since",
      );
      const result = await driver.get(key, { conditions: { ifMatch: [etag] } });
      assert.equal(result.kind, "body");
      if (result.kind === "body") await result.body.cancel();
    },
  );

  test(
    "If-Range keeps a range while the ETag holds and sends everything once it does not",
    async ({ driver }, prefix) => {
      const key = `${prefix}/r`;
      const { etag } = await driver.put(key, streamOf(text("0123456789")));
      const partial = await driver.get(key, {
        range: { start: 2, end: 4 },
        conditions: { ifRange: { etag } },
      });
      assert.equal(partial.kind, "body");
      if (partial.kind !== "body") return;
      assert.deepEqual(partial.range, { start: 2, end: 4 });
      assert.equal(new TextDecoder().decode(await readAll(partial.body)), "234");
      const whole = await driver.get(key, {
        range: { start: 2, end: 4 },
        conditions: { ifRange: { etag: '"stale"' } },
      });
      assert.equal(whole.kind, "body");
      if (whole.kind !== "body") return;
      assert.equal(whole.range, undefined);
      assert.equal(new TextDecoder().decode(await readAll(whole.body)), "0123456789");
    },
  );

  const conditionTest = (
    title: string,
    conditions: (etag: string, lastModified: Date) => Parameters<StorageDriver["get"]>[1],
    expected: "body" | "not_modified",
  ) =>
    test(title, async ({ driver }, prefix) => {
      const key = `${prefix}/c`;
      await driver.put(key, streamOf(text("conditional")));
      const info = await driver.head(key);
      const result = await driver.get(key, conditions(info.etag, info.lastModified));
      assert.equal(result.kind, expected);
      if (result.kind === "body") {
        await result.body.cancel();
      } else {
        assert.equal(result.etag, info.etag);
        assert.equal(
          Math.floor(result.lastModified.getTime() / 1000),
          Math.floor(info.lastModified.getTime() / 1000),
        );
      }
    });

  conditionTest(
    "If-None-Match with the current ETag answers not modified",
    (etag) => ({ conditions: { ifNoneMatch: ['"other"', etag] } }),
    "not_modified",
  );
  conditionTest(
    "If-None-Match with a weak form of the current ETag answers not modified",
    (etag) => ({ conditions: { ifNoneMatch: [`W/${etag}`] } }),
    "not_modified",
  );
  conditionTest(
    "If-None-Match with another ETag returns the body",
    () => ({ conditions: { ifNoneMatch: ['"not-the-etag"'] } }),
    "body",
  );
  conditionTest(
    "If-None-Match: * answers not modified for an existing object",
    () => ({ conditions: { ifNoneMatch: "*" } }),
    "not_modified",
  );
  conditionTest(
    "If-Modified-Since at Last-Modified answers not modified",
    (_, lastModified) => ({ conditions: { ifModifiedSince: lastModified } }),
    "not_modified",
  );
  conditionTest(
    "If-Modified-Since before Last-Modified returns the body",
    (_, lastModified) => ({
      conditions: { ifModifiedSince: new Date(lastModified.getTime() - 10_000) },
    }),
    "body",
  );
  conditionTest(
    "If-None-Match decides over If-Modified-Since",
    (_, lastModified) => ({
      conditions: {
        ifNoneMatch: ['"not-the-etag"'],
        ifModifiedSince: new Date(lastModified.getTime() + 10_000),
      },
    }),
    "body",
  );

  // --- Missing objects and delete ----------------------------------------------------------------

  test("reading a missing object is not_found", async ({ driver }, prefix) => {
    await rejectsWith(driver.get(`${prefix}/missing`), "storage.not_found");
    await rejectsWith(driver.head(`${prefix}/missing`), "storage.not_found");
  });

  test("a deleted object is gone", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/d`, streamOf(text("bye")));
    await driver.delete(`${prefix}/d`);
    await rejectsWith(driver.head(`${prefix}/d`), "storage.not_found");
  });

  test(
    "deleting twice, or what was never there, succeeds and leaves no object",
    async ({ driver }, prefix) => {
      assert.equal(await driver.delete(`${prefix}/never`), undefined);
      await driver.put(`${prefix}/d`, streamOf(text("bye")));
      await driver.delete(`${prefix}/d`);

      assert.equal(await driver.delete(`${prefix}/d`), undefined);

      await rejectsWith(driver.head(`${prefix}/d`), "storage.not_found");
      await rejectsWith(driver.head(`${prefix}/never`), "storage.not_found");
      const page = await driver.list({ prefix: `${prefix}/`, limit: 100 });
      assert.deepEqual({ objects: page.objects, prefixes: page.prefixes }, {
        objects: [],
        prefixes: [],
      });
    },
  );

  test("deleting an object keeps objects below its key", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/a`, streamOf(text("a")));
    await driver.put(`${prefix}/a/b`, streamOf(text("b")));
    await driver.delete(`${prefix}/a`);
    assert.equal((await driver.head(`${prefix}/a/b`)).size, 1);
  });

  // --- Copy ------------------------------------------------------------------------------------

  test("copy duplicates bytes, content type and metadata", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/src`, streamOf(text("payload")), {
      contentType: "text/plain",
      metadata: { origin: "copy-test" },
    });
    const copied = await driver.copy(`${prefix}/src`, `${prefix}/dir/dst`);
    assert.deepEqual({ key: copied.key, size: copied.size }, { key: `${prefix}/dir/dst`, size: 7 });
    const result = await driver.get(`${prefix}/dir/dst`);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(new TextDecoder().decode(await readAll(result.body)), "payload");
    assert.equal(result.info.contentType, "text/plain");
    assert.deepEqual(result.info.metadata, { origin: "copy-test" });
  });

  test("a copy is independent of its source", async ({ driver }, prefix) => {
    await driver.put(`${prefix}/src`, streamOf(text("one")));
    await driver.copy(`${prefix}/src`, `${prefix}/dst`);
    await driver.put(`${prefix}/src`, streamOf(text("two!")));
    await driver.delete(`${prefix}/src`);
    assert.equal((await driver.head(`${prefix}/dst`)).size, 3);
  });

  test("copying a missing object is not_found", async ({ driver }, prefix) => {
    await rejectsWith(driver.copy(`${prefix}/none`, `${prefix}/dst`), "storage.not_found");
  });

  // --- Listing ---------------------------------------------------------------------------------

  const tree = ["a", "b/1", "b/2", "b/c/3", "c", "d/4", "e"];
  async function plant(driver: StorageDriver, prefix: string, keys: readonly string[]) {
    for (const key of keys) await driver.put(`${prefix}/${key}`, streamOf(text(key)));
  }

  test("lists objects and common prefixes under a delimiter", async ({ driver }, prefix) => {
    await plant(driver, prefix, tree);
    const page = await driver.list({ prefix: `${prefix}/`, delimiter: "/", limit: 100 });
    assert.deepEqual(page.objects.map((o) => o.key), ["a", "c", "e"].map((k) => `${prefix}/${k}`));
    assert.deepEqual(page.prefixes, [`${prefix}/b/`, `${prefix}/d/`]);
    assert.equal(page.cursor, undefined);
    const a = page.objects[0]!;
    assert.equal(a.size, 1);
    assert.match(a.etag, /^"[^"]+"$/);
  });

  test("lists one level down with a deeper prefix", async ({ driver }, prefix) => {
    await plant(driver, prefix, tree);
    const page = await driver.list({ prefix: `${prefix}/b/`, delimiter: "/", limit: 100 });
    assert.deepEqual(page.objects.map((o) => o.key), [`${prefix}/b/1`, `${prefix}/b/2`]);
    assert.deepEqual(page.prefixes, [`${prefix}/b/c/`]);
  });

  test("a prefix may end inside a segment", async ({ driver }, prefix) => {
    await plant(driver, prefix, ["log-1", "log-2/x", "lag"]);
    const page = await driver.list({ prefix: `${prefix}/log`, delimiter: "/", limit: 100 });
    assert.deepEqual(page.objects.map((o) => o.key), [`${prefix}/log-1`]);
    assert.deepEqual(page.prefixes, [`${prefix}/log-2/`]);
  });

  test("pages through every key once, in order", async ({ driver }, prefix) => {
    await plant(driver, prefix, tree);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await driver.list({
        prefix: `${prefix}/`,
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      assert.ok(page.objects.length <= 2);
      seen.push(...page.objects.map((o) => o.key));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 20);
    assert.deepEqual(seen, tree.map((k) => `${prefix}/${k}`));
  });

  test("pages through objects and prefixes once each, in order", async ({ driver }, prefix) => {
    await plant(driver, prefix, tree);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await driver.list({
        prefix: `${prefix}/`,
        delimiter: "/",
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      assert.equal(page.objects.length + page.prefixes.length, 1);
      seen.push(...page.objects.map((o) => o.key), ...page.prefixes);
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 20);
    assert.deepEqual(seen, ["a", "b/", "c", "d/", "e"].map((k) => `${prefix}/${k}`));
  });

  test("groups by a delimiter other than /", async ({ driver }, prefix) => {
    await plant(driver, prefix, ["x-1", "x-2", "y", "z-9/q"]);
    const page = await driver.list({ prefix: `${prefix}/`, delimiter: "-", limit: 100 });
    assert.deepEqual(page.objects.map((o) => o.key), [`${prefix}/y`]);
    assert.deepEqual(page.prefixes, [`${prefix}/x-`, `${prefix}/z-`]);
  });

  test("orders keys by their UTF-8 bytes", async ({ driver }, prefix) => {
    // UTF-16 order would put the emoji (a surrogate pair) before U+FF5E; "-" < "/" < "0".
    const keys = ["é", "\uff5e", "😀", "a0", "a/b", "a-b"];
    await plant(driver, prefix, keys);
    const page = await driver.list({ prefix: `${prefix}/`, limit: 100 });
    assert.deepEqual(
      page.objects.map((o) => o.key),
      ["a-b", "a/b", "a0", "é", "\uff5e", "😀"].map((k) => `${prefix}/${k}`),
    );
  });

  test("a prefix nothing matches lists nothing", async ({ driver }, prefix) => {
    await plant(driver, prefix, ["a"]);
    const page = await driver.list({ prefix: `${prefix}/zzz`, delimiter: "/", limit: 10 });
    assert.deepEqual(page, { objects: [], prefixes: [] });
  });

  // --- Failed uploads and limits ---------------------------------------------------------------

  test("an upload cut off mid-body leaves no object", async (target, prefix) => {
    const { driver } = target;
    await assert.rejects(driver.put(`${prefix}/cut`, failingStream(6 * MiB)));
    await rejectsWith(driver.head(`${prefix}/cut`), "storage.not_found");
    assert.equal(await target.partialUploads(prefix), 0);
  });

  test("an overwrite cut off mid-body keeps the previous object", async (target, prefix) => {
    const { driver } = target;
    await driver.put(`${prefix}/keep`, streamOf(text("previous")));
    await assert.rejects(driver.put(`${prefix}/keep`, failingStream(MiB)));
    const result = await driver.get(`${prefix}/keep`);
    assert.equal(result.kind, "body");
    if (result.kind !== "body") return;
    assert.equal(new TextDecoder().decode(await readAll(result.body)), "previous");
    assert.equal(await target.partialUploads(prefix), 0);
  });

  test("a body over maxObjectSize is refused and nothing is stored", async (target, prefix) => {
    await rejectsWith(
      target.driver.put(`${prefix}/big`, streamOf(new Uint8Array(4096))),
      "storage.too_large",
    );
    await rejectsWith(target.driver.head(`${prefix}/big`), "storage.not_found");
    assert.equal(await target.partialUploads(prefix), 0);
  }, { maxObjectSize: 1024 });

  test("every operation refuses invalid keys", async ({ driver }, prefix) => {
    const bad = [
      "",
      "/leading",
      `${prefix}//double`,
      `${prefix}/trailing/`,
      "../escape",
      `${prefix}/../../escape`,
      `${prefix}/./here`,
      `${prefix}\\back`,
      `${prefix}/nul\u0000`,
      `${prefix}/line\nbreak`,
      `${prefix}/%2e%2e/%2e%2e/escape`,
      `${prefix}/..%2f..%2fescape`,
      `${prefix}/%252e%252e%252fescape`,
      `${prefix}/%c0%ae%c0%ae/escape`,
      `${prefix}/${"x".repeat(1025)}`,
      `${prefix}/${"y".repeat(251)}`,
    ];
    for (const key of bad) {
      await rejectsWith(driver.put(key, streamOf(text("x"))), "storage.key_invalid");
      await rejectsWith(driver.get(key), "storage.key_invalid");
      await rejectsWith(driver.head(key), "storage.key_invalid");
      await rejectsWith(driver.delete(key), "storage.key_invalid");
      await rejectsWith(driver.copy(key, `${prefix}/ok`), "storage.key_invalid");
    }
    assert.deepEqual(await driver.list({ prefix: `${prefix}/`, limit: 10 }), {
      objects: [],
      prefixes: [],
    });
  });

  // --- Presigned URLs (feature blocks) ----------------------------------------------------------

  test("presigned URLs: served by the backend (presign_backend)", async ({ driver }, prefix) => {
    const key = `${prefix}/signed`;
    if (!driver.features.has("presign_backend")) {
      // Not claimed: the URL must then point at edgebox, not at the backend.
      const signed = await driver.presign(key, {
        method: "GET",
        expiresIn: 60,
        routeUrl: "http://edgebox.test/v1/storage/presigned",
      });
      assert.ok(signed.url.startsWith("http://edgebox.test/v1/storage/presigned?"), signed.url);
      return;
    }
    const put = await driver.presign(key, { method: "PUT", expiresIn: 60, routeUrl: "unused" });
    const upload = await fetch(put.url, { method: "PUT", body: text("via presigned PUT") });
    await upload.body?.cancel();
    assert.equal(upload.status, 200);
    const get = await driver.presign(key, { method: "GET", expiresIn: 60, routeUrl: "unused" });
    const download = await fetch(get.url);
    assert.equal(await download.text(), "via presigned PUT");
    assert.ok(get.expiresAt.getTime() > Date.now());
  });

  test("presigned URLs: verified by edgebox (presign_edgebox)", async ({ driver }, prefix) => {
    const key = `${prefix}/signed`;
    const request = async (method: "GET" | "PUT") => {
      const signed = await driver.presign(key, {
        method,
        expiresIn: 60,
        routeUrl: "http://edgebox.test/v1/storage/presigned",
      });
      const url = new URL(signed.url);
      return {
        key: url.searchParams.get("key") ?? "",
        expires: url.searchParams.get("expires") ?? "",
        signature: url.searchParams.get("signature") ?? "",
      };
    };
    if (!driver.features.has("presign_edgebox")) {
      await rejectsWith(
        driver.verifySignedUrl({ key, method: "GET", expires: "1", signature: "x" }),
        "storage.unsupported",
      );
      return;
    }
    const signed = await request("GET");
    assert.equal(signed.key, key);
    await driver.verifySignedUrl({ ...signed, method: "GET" });
    await rejectsWith(
      driver.verifySignedUrl({ ...signed, method: "PUT" }),
      "storage.signature_invalid",
    );
    await rejectsWith(
      driver.verifySignedUrl({ ...signed, method: "GET", key: `${prefix}/other` }),
      "storage.signature_invalid",
    );
    await rejectsWith(
      driver.verifySignedUrl({
        ...signed,
        method: "GET",
        expires: String(Number(signed.expires) + 3600),
      }),
      "storage.signature_invalid",
    );
  });

  // --- Lifecycle -------------------------------------------------------------------------------

  test("connect is idempotent and the driver reports ready", async ({ driver }) => {
    await driver.connect();
    await driver.connect();
    assert.deepEqual(await driver.ping(), { status: "ready" });
  });

  test(
    "after close, operations answer unavailable and close is safe twice",
    async ({ driver }, prefix) => {
      await driver.close();
      await driver.close();
      await rejectsWith(driver.head(`${prefix}/x`), "storage.unavailable");
      assert.equal((await driver.ping()).status, "down");
    },
  );
}
