/**
 * The cache on Redis as other clients of the same Redis see it: ioredis, used directly the way
 * another service would, writes and reads behind edgebox's back while edgebox serves HTTP
 * in-process. Each entry is one key under the key prefix (a Redis hash: `v` bytes, `t` content
 * type, `e` tag, `x` expiry; see README "Layout in Redis"), readable with HGET/HGETALL and gone
 * after a DEL; a plain string SET by another client reads byte-exact; TTLs, counters and hashes
 * are visible with plain commands; and a frozen (SIGSTOP) Redis turns the driver's ping, and
 * the plugin, not ready until it answers again.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { COUNTER_CONTENT_TYPE } from "../../plugins/cache/driver.ts";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { RedisCache } from "../../plugins/cache/redis.ts";
import { configYaml, openApp, type RunningApp, SANITIZED, stateOf, waitFor } from "../_helpers.ts";
import { realService } from "../contract/_services.ts";
import { OwnRedis, ownRedisTest } from "../contract/_own_redis.ts";

const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
const registry = new Map([["cache", cachePlugin]]);

/** The entity tag edgebox must answer, computed here on its own. */
function tagOf(contentType: string, value: Uint8Array): string {
  return `"${createHash("sha1").update(contentType).update("\n").update(value).digest("hex")}"`;
}

/** Every name under `pattern` (SCAN to the end). */
async function scanAll(raw: Redis, pattern: string): Promise<string[]> {
  const names: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await raw.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
    names.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return names.sort();
}

/** Escapes Redis glob characters. */
const glob = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

/**
 * edgebox with a Redis cache under a prefix of its own, and another client beside it. Its health
 * is probed every 50ms; a probe may take a second (these tests run beside others on busy CI).
 */
async function stack(at = url, commandTimeout = "1s") {
  const prefix = `edgebox-interop:${crypto.randomUUID()}:`;
  const raw = new Redis(at, { lazyConnect: true });
  await raw.connect();
  let app: RunningApp;
  try {
    app = await openApp(
      configYaml({
        cache: {
          backend: "redis",
          url: at,
          keyPrefix: prefix,
          commandTimeout,
          healthInterval: "50ms",
          timeouts: { start: "2s", ready: "1s" },
        },
      }),
      registry,
    );
  } catch (error) {
    await raw.quit();
    throw error;
  }
  const request = (path: string, init?: RequestInit) => app.request(`/v1/cache${path}`, init);
  return {
    app,
    raw,
    prefix,
    name: (key: string) => prefix + key,
    request,
    /** Every key under the prefix, as another client's SCAN sees them. */
    scan: () => scanAll(raw, `${glob(prefix)}*`),
    async keys(): Promise<string[]> {
      const response = await request("/keys?limit=1000");
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.cursor, null);
      return (body.keys as string[]).sort();
    },
    async [Symbol.asyncDispose]() {
      try {
        const names = await scanAll(raw, `${glob(prefix)}*`);
        if (names.length > 0) await raw.del(...names);
      } finally {
        await raw.quit();
        await app[Symbol.asyncDispose]();
      }
    },
  };
}

async function drain(response: Response): Promise<Response> {
  await response.body?.cancel();
  return response;
}

if (await realService("redis", url, 6379)) {
  Deno.test(
    "redis interop: an entry written over HTTP is one Redis hash under the prefix, read with HGETALL",
    SANITIZED,
    async () => {
      await using x = await stack();

      const put = await drain(
        await x.request("/keys/greeting?ttl=60s", {
          method: "PUT",
          headers: { "content-type": "text/plain" },
          body: "hello",
        }),
      );
      assert.equal(put.status, 201);

      assert.deepEqual(await x.scan(), [x.name("greeting")]);
      assert.equal(await x.raw.type(x.name("greeting")), "hash");
      const fields = await x.raw.hgetall(x.name("greeting"));
      assert.deepEqual(Object.keys(fields).sort(), ["e", "t", "v", "x"]);
      assert.equal(await x.raw.hget(x.name("greeting"), "v"), "hello");
      assert.equal(fields.t, "text/plain");
      assert.equal(fields.e, tagOf("text/plain", new TextEncoder().encode("hello")));
      const got = await x.request("/keys/greeting");
      assert.equal(await got.text(), "hello");
      assert.equal(got.headers.get("etag"), fields.e);
      assert.deepEqual(await x.keys(), ["greeting"]);
    },
  );

  Deno.test(
    "redis interop: a value of the default content type stores no t field",
    SANITIZED,
    async () => {
      await using x = await stack();

      await drain(await x.request("/keys/raw", { method: "PUT", body: new Uint8Array([0, 255]) }));

      const fields = await x.raw.hgetallBuffer(x.name("raw"));
      assert.deepEqual(Object.keys(fields).sort(), ["e", "v"]);
      assert.deepEqual(new Uint8Array(fields.v!), new Uint8Array([0, 255]));
      const got = await x.request("/keys/raw");
      await got.body?.cancel();
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
    },
  );

  Deno.test(
    "redis interop: a TTL set through edgebox is the key's PTTL, and x holds its instant",
    SANITIZED,
    async () => {
      await using x = await stack();

      await drain(await x.request("/keys/short?ttl=90s", { method: "PUT", body: "v" }));

      const pttl = await x.raw.pttl(x.name("short"));
      assert.ok(pttl > 0 && pttl <= 90_000, `pttl ${pttl}`);
      const expiry = Number(await x.raw.hget(x.name("short"), "x"));
      const [seconds, micros] = await x.raw.time();
      const serverNow = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
      // x and PEXPIREAT are one instant: what is left of it is the PTTL (a few ms apart at most)
      assert.ok(Math.abs(expiry - serverNow - pttl) < 1_000, `x ${expiry}, pttl ${pttl}`);
      const got = await drain(await x.request("/keys/short"));
      const ttl = Number(got.headers.get("x-cache-ttl"));
      assert.ok(ttl > 0 && ttl <= 90, `x-cache-ttl ${ttl}`);
    },
  );

  Deno.test(
    "redis interop: DEL by another client removes the whole entry; edgebox answers 404",
    SANITIZED,
    async () => {
      await using x = await stack();
      await drain(
        await x.request("/keys/doomed", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "{}",
        }),
      );

      assert.equal(await x.raw.del(x.name("doomed")), 1);

      assert.deepEqual(await x.scan(), []);
      assert.equal((await drain(await x.request("/keys/doomed"))).status, 404);
      assert.equal((await drain(await x.request("/keys/doomed", { method: "HEAD" }))).status, 404);
      assert.deepEqual(await x.keys(), []);
      assert.equal(
        (await drain(
          await x.request("/keys/doomed", {
            method: "PUT",
            headers: { "if-none-match": "*" },
            body: "again",
          }),
        )).status,
        201,
      );
    },
  );

  Deno.test(
    "redis interop: a plain string SET by another client reads through edgebox byte-exact",
    SANITIZED,
    async () => {
      await using x = await stack();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await x.raw.set(x.name("foreign"), Buffer.from(bytes), "PX", 60_000);

      const got = await x.request("/keys/foreign");
      const body = new Uint8Array(await got.arrayBuffer());

      assert.equal(got.status, 200);
      assert.deepEqual(body, bytes);
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
      assert.equal(got.headers.get("etag"), tagOf("application/octet-stream", bytes));
      const ttl = Number(got.headers.get("x-cache-ttl"));
      assert.ok(ttl > 0 && ttl <= 60, `x-cache-ttl ${ttl}`);
      const head = await drain(await x.request("/keys/foreign", { method: "HEAD" }));
      assert.equal(head.headers.get("content-length"), "256");
      assert.equal(head.headers.get("etag"), got.headers.get("etag"));
      assert.deepEqual(await x.keys(), ["foreign"]);
    },
  );

  Deno.test(
    "redis interop: a foreign string counts, takes If-Match, and a write makes it an entry",
    SANITIZED,
    async () => {
      await using x = await stack();
      await x.raw.set(x.name("n"), "41");

      const incr = await x.request("/keys/n/incr", { method: "POST" });
      assert.equal((await incr.json()).value, 42);
      assert.equal(await x.raw.get(x.name("n")), "42"); // still the other client's string

      const tag = tagOf("application/octet-stream", new TextEncoder().encode("42"));
      const put = await drain(
        await x.request("/keys/n", {
          method: "PUT",
          headers: { "if-match": tag, "content-type": "text/plain" },
          body: "mine",
        }),
      );
      assert.equal(put.status, 204);
      assert.equal(await x.raw.type(x.name("n")), "hash");
      assert.equal(await x.raw.hget(x.name("n"), "v"), "mine");
    },
  );

  Deno.test(
    "redis interop: a counter incremented through edgebox reads with HGET, and counts theirs",
    SANITIZED,
    async () => {
      await using x = await stack();

      for (let i = 0; i < 2; i++) {
        await drain(await x.request("/keys/visits/incr?by=5&ttl=1h", { method: "POST" }));
      }

      assert.deepEqual(await x.scan(), [x.name("visits")]);
      assert.equal(await x.raw.hget(x.name("visits"), "v"), "10");
      assert.equal(await x.raw.hget(x.name("visits"), "t"), COUNTER_CONTENT_TYPE);
      assert.ok(await x.raw.pttl(x.name("visits")) > 0);
      // another client counts on the same field; edgebox reads the sum, tagged from it
      assert.equal(await x.raw.hincrby(x.name("visits"), "v", 5), 15);
      const got = await x.request("/keys/visits");
      assert.equal(await got.text(), "15");
      assert.equal(
        got.headers.get("etag"),
        tagOf(COUNTER_CONTENT_TYPE, new TextEncoder().encode("15")),
      );
      const incr = await x.request("/keys/visits/incr", { method: "POST" });
      assert.equal((await incr.json()).value, 16);
    },
  );

  Deno.test(
    "redis interop: counting a stored value drops its stored tag, so the tag follows the count",
    SANITIZED,
    async () => {
      await using x = await stack();
      const one = new TextEncoder().encode("1"); // bytes: no text/plain from the Request
      await drain(await x.request("/keys/n", { method: "PUT", body: one }));
      assert.equal(await x.raw.hexists(x.name("n"), "e"), 1);

      await drain(await x.request("/keys/n/incr", { method: "POST" }));

      assert.equal(await x.raw.hexists(x.name("n"), "e"), 0);
      const got = await drain(await x.request("/keys/n"));
      assert.equal(
        got.headers.get("etag"),
        tagOf("application/octet-stream", new TextEncoder().encode("2")),
      );
    },
  );

  Deno.test(
    "redis interop: a hash is one key: the marker, its expiry and f:<field> per field",
    SANITIZED,
    async () => {
      await using x = await stack();

      await drain(
        await x.request("/hashes/session:42?ttl=30m", {
          method: "PATCH",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ user: "ada", theme: "dark", v: "not the value field" }),
        }),
      );

      assert.deepEqual(await x.scan(), [x.name("session:42")]);
      const fields = await x.raw.hgetall(x.name("session:42"));
      assert.equal(fields.k, "hash");
      assert.equal(fields["f:user"], "ada");
      assert.equal(fields["f:v"], "not the value field");
      assert.equal(fields.v, undefined);
      assert.ok(await x.raw.pttl(x.name("session:42")) > 0);
      // another client sets a field the same way; edgebox reads it
      await x.raw.hset(x.name("session:42"), "f:lang", "en");
      const got = await x.request("/hashes/session:42");
      assert.deepEqual((await got.json()).fields, {
        user: "ada",
        theme: "dark",
        v: "not the value field",
        lang: "en",
      });
      // a hash is not a value
      assert.equal((await drain(await x.request("/keys/session:42"))).status, 409);
      for (const field of ["user", "theme", "v", "lang"]) {
        await drain(await x.request(`/hashes/session:42/fields/${field}`, { method: "DELETE" }));
      }
      assert.deepEqual(await x.scan(), []);
    },
  );

  Deno.test(
    "redis interop: a Redis hash edgebox did not write is wrong_type, not a miss",
    SANITIZED,
    async () => {
      await using x = await stack();
      await x.raw.hset(x.name("theirs"), "a", "1");

      assert.equal((await drain(await x.request("/keys/theirs"))).status, 409);
      assert.equal((await drain(await x.request("/hashes/theirs"))).status, 409);
      assert.equal((await drain(await x.request("/keys/theirs", { method: "HEAD" }))).status, 409);
    },
  );

  Deno.test(
    "redis interop: an entry of the old two-key layout reads as application/octet-stream",
    SANITIZED,
    async () => {
      await using x = await stack();
      await x.raw.set(x.name("old"), "legacy");
      await x.raw.set(`${x.prefix}\0ct:old`, "text/plain");

      const got = await x.request("/keys/old");

      assert.equal(await got.text(), "legacy");
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
      assert.deepEqual(await x.keys(), ["old"]); // the old sidecar is never listed
    },
  );

  Deno.test(
    "redis interop: values, hashes and counters under the prefix are one key each",
    SANITIZED,
    async () => {
      await using x = await stack();
      await drain(await x.request("/keys/a", { method: "PUT", body: "1" }));
      await drain(await x.request("/keys/b?ttl=1h", { method: "PUT", body: "2" }));
      await drain(await x.request("/keys/c/incr", { method: "POST" }));
      await drain(
        await x.request("/hashes/d", {
          method: "PATCH",
          headers: { "content-type": "application/json" },
          body: '{"f":"1"}',
        }),
      );
      await drain(
        await x.request("/batch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ set: [{ key: "e", value: "5", contentType: "text/plain" }] }),
        }),
      );

      const expected = ["a", "b", "c", "d", "e"];
      assert.deepEqual(await x.scan(), expected.map(x.name));
      assert.deepEqual(await x.keys(), expected);
      assert.equal(await x.raw.hget(x.name("e"), "t"), "text/plain");
    },
  );
}

/** A test against a redis-server of its own (frozen and thawed). */
const frozenRedisTest = (name: string, fn: () => Promise<void>) =>
  ownRedisTest("redis interop", name, SANITIZED, fn);

frozenRedisTest(
  "a frozen Redis makes ping not ready within commandTimeout; ready after SIGCONT",
  async () => {
    await using redis = new OwnRedis();
    await redis.start();
    await using cache = new RedisCache({
      url: redis.url,
      keyPrefix: "edgebox-interop:",
      limits: { maxKeyBytes: 512, maxFieldBytes: 256, maxValueSize: 1_024, maxHashFields: 16 },
      commandTimeout: 200,
      connectTimeout: 2_000,
      retryMaxDelay: 100,
    });
    await cache.connect();
    assert.equal((await cache.ping()).status, "ready");

    redis.signal("SIGSTOP");
    try {
      // The socket stays open: only a real round trip with a deadline can tell.
      const report = await cache.ping();
      assert.equal(report.status, "down");
      assert.match(report.detail ?? "", /timed out/);
    } finally {
      redis.signal("SIGCONT");
    }

    await waitFor(async () => (await cache.ping()).status === "ready", "ping to be ready again");
  },
);

frozenRedisTest(
  "a frozen Redis turns the plugin degraded and /ready 503, then ready again",
  async () => {
    await using redis = new OwnRedis();
    await redis.start();
    await using x = await stack(redis.url, "200ms");
    await drain(await x.request("/keys/k", { method: "PUT", body: "v" }));

    redis.signal("SIGSTOP");
    try {
      await waitFor(() => stateOf(x.app, "cache") === "degraded", "the plugin to turn degraded");
      const ready = await x.app.request("/ready");
      assert.equal(ready.status, 503);
      assert.ok(Number(ready.headers.get("retry-after")) >= 1);
      await ready.body?.cancel();
      const got = await x.request("/keys/k");
      assert.equal(got.status, 503);
      assert.ok(Number(got.headers.get("retry-after")) >= 1);
      await got.body?.cancel();
    } finally {
      redis.signal("SIGCONT");
    }

    await waitFor(() => stateOf(x.app, "cache") === "ready", "the plugin to be ready again");
    const got = await x.request("/keys/k");
    assert.equal(await got.text(), "v");
  },
);
