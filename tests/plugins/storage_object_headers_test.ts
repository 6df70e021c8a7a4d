/**
 * The standard object headers (`Cache-Control`, `Content-Disposition`, `Content-Encoding`,
 * `Content-Language`, `Expires`) over HTTP, through the core app on the filesystem backend: set
 * on PUT, answered on GET, HEAD and 304, kept by copy, refused with a 400 naming the header when
 * malformed, and an encoded body sent as stored (never decoded, never encoded twice).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import type { PluginDefinition } from "../../core/plugin.ts";
import { storagePlugin } from "../../plugins/storage/mod.ts";
import { STORED_HEADERS } from "../../plugins/storage/object_headers.ts";
import { configYaml, openApp, problemOf, type RunningApp, SANITIZED } from "../_helpers.ts";

const RELAXED = { healthInterval: "1h", timeouts: { start: "10s", ready: "10s" } };
const registry = new Map<string, PluginDefinition>([["storage", storagePlugin]]);

/** The five headers, as request and response headers. */
const STANDARD: Record<string, string> = {
  "cache-control": "public, max-age=600, stale-while-revalidate=30",
  "content-disposition":
    `attachment; filename="q1 report.pdf"; filename*=UTF-8''q1%20r%C3%A9port.pdf`,
  "content-encoding": "gzip",
  "content-language": "en-GB, fr",
  "expires": "Thu, 01 Jan 2037 00:00:00 GMT",
};
const NAMES = Object.keys(STANDARD);

/** Starts edgebox with a filesystem storage instance in a fresh temp directory. */
async function openStorage(): Promise<RunningApp> {
  const root = await Deno.makeTempDir({ prefix: "edgebox-storage-headers-" });
  const running = await openApp(
    configYaml({
      storage: {
        backend: "filesystem",
        root,
        fsync: false,
        presignSecret: "p".repeat(32),
        ...RELAXED,
      },
    }),
    registry,
  );
  return {
    ...running,
    async [Symbol.asyncDispose]() {
      await running.lifecycle.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

function storageTest(name: string, fn: (app: RunningApp) => Promise<void>) {
  Deno.test({
    name,
    ...SANITIZED,
    async fn() {
      await using app = await openStorage();
      await fn(app);
    },
  });
}

async function put(
  app: RunningApp,
  key: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await app.request(`/v1/storage/objects/${key}`, { method: "PUT", body, headers });
}

async function stored(
  app: RunningApp,
  key: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<{ etag: string }> {
  const response = await put(app, key, body, headers);
  assert.equal(response.status, 201, await response.clone().text());
  return await response.json();
}

/** The standard headers a response carries (`null` for each it does not). */
function standardOf(response: Response): Record<string, string | null> {
  return Object.fromEntries(NAMES.map((name) => [name, response.headers.get(name)]));
}

const none = Object.fromEntries(NAMES.map((name) => [name, null]));

storageTest("PUT stores the standard headers; GET and HEAD answer with them", async (app) => {
  await stored(app, "all", "x", STANDARD);
  const get = await app.request("/v1/storage/objects/all");
  assert.equal(get.status, 200);
  assert.equal(await get.text(), "x");
  assert.deepEqual(standardOf(get), STANDARD);
  const head = await app.request("/v1/storage/objects/all", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.deepEqual(standardOf(head), STANDARD);
  const ranged = await app.request("/v1/storage/objects/all", { headers: { range: "bytes=0-0" } });
  assert.equal(ranged.status, 206);
  await ranged.body?.cancel();
  assert.deepEqual(standardOf(ranged), STANDARD);
});

storageTest("each header is stored alone; one never set is never answered", async (app) => {
  for (const name of NAMES) {
    await stored(app, `one/${name}`, "x", { [name]: STANDARD[name]! });
    const head = await app.request(`/v1/storage/objects/one/${name}`, { method: "HEAD" });
    assert.deepEqual(standardOf(head), { ...none, [name]: STANDARD[name]! }, name);
  }
  await stored(app, "bare", "x");
  const head = await app.request("/v1/storage/objects/bare", { method: "HEAD" });
  assert.deepEqual(standardOf(head), none);
});

storageTest("a 304 repeats Cache-Control and Expires", async (app) => {
  const { etag } = await stored(app, "c", "x", STANDARD);
  for (const method of ["GET", "HEAD"]) {
    const response = await app.request("/v1/storage/objects/c", {
      method,
      headers: { "if-none-match": etag },
    });
    assert.equal(response.status, 304);
    await response.body?.cancel();
    assert.equal(response.headers.get("cache-control"), STANDARD["cache-control"]);
    assert.equal(response.headers.get("expires"), STANDARD["expires"]);
  }
});

storageTest("copy keeps the stored headers", async (app) => {
  await stored(app, "src", "x", STANDARD);
  const copied = await app.request("/v1/storage/objects/src/copy", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ to: "dst" }),
  });
  assert.equal(copied.status, 201);
  await copied.body?.cancel();
  const head = await app.request("/v1/storage/objects/dst", { method: "HEAD" });
  assert.deepEqual(standardOf(head), STANDARD);
});

storageTest("an overwrite without the headers drops them", async (app) => {
  await stored(app, "o", "1", STANDARD);
  await stored(app, "o", "2", { "cache-control": "no-store" });
  const head = await app.request("/v1/storage/objects/o", { method: "HEAD" });
  assert.deepEqual(standardOf(head), { ...none, "cache-control": "no-store" });
});

storageTest("a gzip-encoded object is sent as its stored bytes, not decoded", async (app) => {
  const gzipped = new Uint8Array(gzipSync(new TextEncoder().encode("compressible ".repeat(200))));
  await stored(app, "z.txt", gzipped, {
    "content-type": "text/plain",
    "content-encoding": "gzip",
  });
  const response = await app.request("/v1/storage/objects/z.txt", {
    headers: { "accept-encoding": "identity" },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-encoding"), "gzip");
  assert.equal(response.headers.get("content-length"), String(gzipped.length));
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), gzipped);
});

/** Reads a whole HTTP/1.1 answer off a raw connection: the head as text, the body as bytes. */
async function rawGet(
  port: number,
  target: string,
  extra: string,
): Promise<{ head: string; body: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(
      `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`,
    ));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16_384);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(buffer.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    const end = new TextDecoder("latin1").decode(all).indexOf("\r\n\r\n");
    return {
      head: new TextDecoder().decode(all.subarray(0, end)),
      body: all.subarray(end + 4),
    };
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "over a real socket, a gzip object is neither decoded nor encoded again",
  ...SANITIZED,
  async fn() {
    await using app = await openStorage();
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => app.app.fetch(request),
    );
    const gzipped = new Uint8Array(gzipSync(new TextEncoder().encode("compressible ".repeat(500))));
    await stored(app, "z.txt", gzipped, {
      "content-type": "text/plain",
      "content-encoding": "gzip",
    });
    const { head, body } = await rawGet(
      server.addr.port,
      "/v1/storage/objects/z.txt",
      "Accept-Encoding: gzip, br\r\n",
    );
    assert.match(head, /^HTTP\/1\.1 200 /);
    const encodings = head.split("\r\n").filter((line) => /^content-encoding:/i.test(line));
    assert.deepEqual(encodings.map((line) => line.toLowerCase()), ["content-encoding: gzip"]);
    assert.deepEqual(body, gzipped);
  },
});

// --- Validation ------------------------------------------------------------------------------

/** Values each header refuses, and why. */
const REFUSED: [name: string, value: string, why: string][] = [
  ["cache-control", "max-age=60\x01", "a control character"],
  ["cache-control", "max-age=60,\tpublic", "a tab"],
  ["cache-control", "max-age=\x7f", "DEL"],
  ["cache-control", "max-age=\u00e9", "non-ASCII text"],
  ["cache-control", "a".repeat(STORED_HEADERS.cacheControl.maxLength + 1), "over the limit"],
  ["content-disposition", "attachment;\x1bfilename=x", "an escape character"],
  [
    "content-disposition",
    "a".repeat(STORED_HEADERS.contentDisposition.maxLength + 1),
    "over the limit",
  ],
  ["content-encoding", "gzip;q=1", "not a content coding"],
  ["content-encoding", "aws-chunked", "S3's upload framing"],
  ["content-encoding", "gzip, aws-chunked", "S3's upload framing in a list"],
  ["content-encoding", "g".repeat(STORED_HEADERS.contentEncoding.maxLength + 1), "over the limit"],
  ["content-language", "en_US", "not a language tag"],
  ["content-language", "en\x00", "NUL"],
  ["expires", "0", "not a date"],
  ["expires", "tomorrow", "not a date"],
  ["expires", "Mon, 21 Oct 2026 07:28:00 GMT", "a weekday that does not match the date"],
  ["expires", "Wednesday, 21-Oct-26 07:28:00 GMT", "the obsolete RFC 850 form"],
  ["expires", "Wed Oct 21 07:28:00 2026", "the obsolete asctime form"],
  ["expires", "Wed, 31 Feb 2026 07:28:00 GMT", "a day that does not exist"],
  ["expires", "2026-10-21T07:28:00Z", "an ISO date"],
];

storageTest("a malformed standard header is 400 naming it, and nothing is stored", async (app) => {
  const failures: string[] = [];
  let sent = 0;
  for (const [name, value, why] of REFUSED) {
    let response: Response;
    try {
      response = await put(app, "refused", "x", { [name]: value });
    } catch {
      continue; // a value the Fetch API itself refuses (NUL) never reaches a server
    }
    sent++;
    const problem = response.status === 400 ? await problemOf(response) : undefined;
    if (!problem) await response.body?.cancel();
    if (problem?.code !== "core.validation_failed" || problem.field !== `header.${name}`) {
      failures.push(`${name} (${why}): ${response.status} ${JSON.stringify(problem)}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(sent, REFUSED.length - 1);
  const after = await app.request("/v1/storage/objects/refused", { method: "HEAD" });
  assert.equal(after.status, 404);
});

storageTest("an empty standard header is 400 rather than stored as nothing", async (app) => {
  for (const name of NAMES) {
    const response = await put(app, "empty", "x", { [name]: "" });
    assert.equal(response.status, 400, name);
    assert.equal((await problemOf(response)).field, `header.${name}`);
  }
});

storageTest("values at the limits are accepted and returned exactly", async (app) => {
  const longest = {
    "cache-control": `max-age=1, ${"x".repeat(STORED_HEADERS.cacheControl.maxLength - 11)}`,
    "content-disposition": `inline; filename="${
      "f".repeat(STORED_HEADERS.contentDisposition.maxLength - 19)
    }"`,
    "content-encoding": "br, gzip,deflate ,  zstd",
    "content-language": "zh-Hant-TW, en, x-klingon",
    "expires": "Sat, 01 Jan 2000 00:00:00 GMT",
  };
  assert.equal(longest["cache-control"].length, STORED_HEADERS.cacheControl.maxLength);
  assert.equal(longest["content-disposition"].length, STORED_HEADERS.contentDisposition.maxLength);
  await stored(app, "edge", "x", longest);
  const head = await app.request("/v1/storage/objects/edge", { method: "HEAD" });
  assert.deepEqual(standardOf(head), longest);
});
