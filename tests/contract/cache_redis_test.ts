/**
 * Runs the cache contract against Redis when it is reachable (REDIS_URL; local default), and
 * checks outages against redis-server processes this file starts itself on free ports: a dead
 * port fails fast, a killed server answers 503 at once and is reconnected to by itself, a
 * stalled one answers 503 within `commandTimeout`, and the HTTP routes do the same.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { EdgeboxError } from "../../core/errors.ts";
import { decodeListCursor, listingScope } from "../../plugins/cache/cursor.ts";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { RedisCache, type RedisCacheOptions } from "../../plugins/cache/redis.ts";
import { configYaml, openApp, SANITIZED, waitFor } from "../_helpers.ts";
import { realService } from "./_services.ts";
import { freePort, OwnRedis, ownRedisTest } from "./_own_redis.ts";
import { CONTRACT_LIMITS, runCacheContract } from "./cache_contract.ts";

const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

function options(at: string, overrides: Partial<RedisCacheOptions> = {}): RedisCacheOptions {
  return {
    url: at,
    keyPrefix: `edgebox-test:${crypto.randomUUID()}:`,
    limits: CONTRACT_LIMITS,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryMaxDelay: 100,
    ...overrides,
  };
}

const redisUp = await realService("redis", url, 6379);

if (redisUp) {
  runCacheContract({
    name: "redis",
    // Constructing a driver does no I/O; only connect() does.
    features: new RedisCache(options(url)).features,
    async open(contract) {
      const cache = new RedisCache(options(url, {
        keyPrefix: contract.keyPrefix,
        limits: contract.limits,
        ...(contract.defaultTtl === undefined ? {} : { defaultTtl: contract.defaultTtl }),
      }));
      try {
        await cache.connect();
      } catch (error) {
        await cache.close();
        throw error;
      }
      return cache;
    },
  });

  Deno.test(
    "redis cache: a value is one Redis hash under the key prefix, its TTL on the key",
    SANITIZED,
    async () => {
      const prefix = `edgebox-test:${crypto.randomUUID()}:`;
      await using cache = new RedisCache(options(url, { keyPrefix: prefix }));
      await cache.connect();
      const raw = new Redis(url, { lazyConnect: true });
      try {
        await raw.connect();

        await cache.set("k", new TextEncoder().encode("bytes"), {
          ttlMs: 60_000,
          contentType: "text/plain",
        });

        const [, names] = await raw.scan("0", "MATCH", `${prefix}*`, "COUNT", 1_000);
        assert.deepEqual(names, [`${prefix}k`]);
        const fields = await raw.hgetall(`${prefix}k`);
        assert.deepEqual(Object.keys(fields).sort(), ["e", "t", "v", "x"]);
        assert.equal(fields.v, "bytes");
        assert.equal(fields.t, "text/plain");
        assert.equal(fields.e, (await cache.get("k"))?.etag);
        const pttl = await raw.pttl(`${prefix}k`);
        assert.ok(pttl > 0 && pttl <= 60_000, `pttl ${pttl}`);
        assert.ok(Math.abs(Number(fields.x) - (Date.now() + pttl)) < 1_000, "x is the expiry");
      } finally {
        await cache.purge();
        await raw.quit();
      }
    },
  );
}

/**
 * The name of the spill list a Redis listing cursor (of `namespace` under the key prefix
 * `prefix`) points at, or `undefined` when none.
 */
function spillOf(prefix: string, namespace: string, cursor: string): string | undefined {
  const [, id] = decodeListCursor(cursor, listingScope("redis", prefix, namespace)) as unknown[];
  return typeof id === "string" ? `${prefix}\0ls:${id}` : undefined;
}

/**
 * A driver holding `count` keys `<namespace><i>` and a raw client beside it; `spilled` pages
 * with one key per page until a cursor points at a spill holding at least `atLeast` keys (SCAN
 * hands out a few keys per call, but how many depends on whatever else the server holds).
 */
async function spillFixture(count: number, namespace = "") {
  const prefix = `edgebox-test:${crypto.randomUUID()}:`;
  const cache = new RedisCache(options(url, { keyPrefix: prefix }));
  const raw = new Redis(url, { lazyConnect: true });
  await cache.connect();
  await raw.connect();
  const written = Array.from({ length: count }, (_, i) => `${namespace}${i}`);
  await cache.batch({ set: written.map((key) => ({ key, value: new Uint8Array(1) })) });
  return {
    cache,
    raw,
    prefix,
    written,
    async spilled(atLeast: number) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages <= count; pages++) {
        const page = await cache.list({
          limit: 1,
          prefix: namespace,
          ...(cursor === undefined ? {} : { cursor }),
        });
        seen.push(...page.keys);
        cursor = page.cursor;
        if (cursor === undefined) break;
        const spill = spillOf(prefix, namespace, cursor);
        if (spill !== undefined && await raw.llen(spill) > atLeast) {
          return { cursor, spill, seen };
        }
      }
      throw new Error(`No listing page of ${count} keys left ${atLeast} keys over`);
    },
    async [Symbol.asyncDispose]() {
      try {
        await cache.purge();
      } finally {
        await cache.close();
        await raw.quit();
      }
    },
  };
}

if (redisUp) {
  Deno.test(
    "redis cache: keys a SCAN returned beyond the page wait in a spill with a TTL, not in the cursor",
    SANITIZED,
    async () => {
      await using x = await spillFixture(200);

      const { spill } = await x.spilled(1);

      const pttl = await x.raw.pttl(spill);
      assert.ok(pttl > 0 && pttl <= 5 * 60_000, `spill TTL ${pttl}`);
    },
  );

  Deno.test(
    "redis cache: a listing followed to the end leaves no spill behind",
    SANITIZED,
    async () => {
      await using x = await spillFixture(200);
      let cursor: string | undefined = (await x.spilled(1)).cursor;

      while (cursor !== undefined) cursor = (await x.cache.list({ limit: 1, cursor })).cursor;

      const [, left] = await x.raw.scan("0", "MATCH", `${x.prefix}\0ls:*`, "COUNT", 10_000);
      assert.deepEqual(left, []);
    },
  );

  Deno.test(
    "redis cache: a cursor whose spill has expired is cursor_invalid, never a silent skip",
    SANITIZED,
    async () => {
      await using x = await spillFixture(200);
      const { cursor, spill } = await x.spilled(1);
      await x.raw.del(spill); // stands in for the TTL running out

      const error = await x.cache.list({ limit: 1, cursor }).then(
        () => undefined,
        (e) => e as EdgeboxError,
      );

      assert.equal(error?.code, "cache.cursor_invalid");
    },
  );

  Deno.test(
    "redis cache: a spilled cursor sent with another prefix is cursor_invalid",
    SANITIZED,
    async () => {
      await using x = await spillFixture(200, "a:");
      const { cursor } = await x.spilled(1);

      const error = await x.cache.list({ limit: 1, prefix: "", cursor }).then(
        () => undefined,
        (e) => e as EdgeboxError,
      );

      assert.equal(error?.code, "cache.cursor_invalid");
    },
  );

  Deno.test(
    "redis cache: a page read from a spill answers the same when asked for twice",
    SANITIZED,
    async () => {
      await using x = await spillFixture(200);
      const { cursor } = await x.spilled(2);

      const first = await x.cache.list({ limit: 1, cursor });
      const again = await x.cache.list({ limit: 1, cursor });

      assert.deepEqual(again, first);
    },
  );

  Deno.test(
    "redis cache: spills never show in listings and are exactly-once with any page size",
    SANITIZED,
    async () => {
      await using x = await spillFixture(300);
      for (const limit of [1, 2, 3, 7, 50]) {
        const keys: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await x.cache.list({ limit, ...(cursor === undefined ? {} : { cursor }) });
          assert.ok(page.keys.length <= limit);
          keys.push(...page.keys);
          cursor = page.cursor;
        } while (cursor !== undefined);
        assert.deepEqual(keys.sort(), [...x.written].sort(), `limit ${limit}`);
      }
    },
  );
}

Deno.test(
  "redis cache: connect to a dead port fails fast with unavailable",
  SANITIZED,
  async () => {
    await using cache = new RedisCache(options(`redis://127.0.0.1:${freePort()}`));

    const error = await cache.connect().then(() => undefined, (e) => e as EdgeboxError);

    assert.equal(error?.code, "cache.unavailable");
    assert.equal(error?.headers["Retry-After"], "1");
    assert.equal((await cache.ping()).status, "down");
  },
);

Deno.test(
  "redis cache: a command while Redis is unreachable fails at once",
  SANITIZED,
  async () => {
    await using cache = new RedisCache(options(`redis://127.0.0.1:${freePort()}`));
    await cache.connect().catch(() => undefined);

    const error = await cache.get("k").then(() => undefined, (e) => e as EdgeboxError);

    assert.equal(error?.code, "cache.unavailable");
  },
);

/** An outage test against a redis-server of its own. */
const outageTest = (name: string, fn: () => Promise<void>) =>
  ownRedisTest("redis cache", name, SANITIZED, fn);

outageTest("a killed server answers unavailable at once, then is reconnected to", async () => {
  await using redis = new OwnRedis();
  await redis.start();
  await using cache = new RedisCache(options(redis.url));
  await cache.connect();
  await cache.set("k", new TextEncoder().encode("v"));

  await redis.kill();
  await waitFor(async () => (await cache.ping()).status === "down", "the driver to notice");
  const error = await cache.get("k").then(() => undefined, (e) => e as EdgeboxError);
  assert.equal(error?.code, "cache.unavailable");

  await redis.start();
  await waitFor(async () => (await cache.ping()).status === "ready", "the driver to reconnect");
  assert.equal(await cache.get("k"), undefined); // a fresh server: nothing survived
  assert.equal(await cache.set("k", new TextEncoder().encode("v")), "created");
});

outageTest("a stalled server answers unavailable within commandTimeout", async () => {
  await using redis = new OwnRedis();
  await redis.start();
  await using cache = new RedisCache(options(redis.url, { commandTimeout: 200 }));
  await cache.connect();

  redis.signal("SIGSTOP");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // Not a timing assertion: a bound far above commandTimeout that tells "hung" from "failed".
    const outcome = await Promise.race([
      cache.get("k").then(() => "answered", (e) => (e as EdgeboxError).code),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 5_000)),
    ]);
    assert.equal(outcome, "cache.unavailable");
  } finally {
    clearTimeout(timer);
    redis.signal("SIGCONT");
  }
  await waitFor(async () => (await cache.ping()).status === "ready", "the server to answer again");
});

outageTest("routes answer 503 with Retry-After while Redis is down, then recover", async () => {
  await using redis = new OwnRedis();
  await redis.start();
  await using running = await openApp(
    configYaml({
      cache: {
        backend: "redis",
        url: redis.url,
        commandTimeout: "200ms",
        retryMaxDelay: "50ms",
        keyPrefix: `edgebox-test:${crypto.randomUUID()}:`,
      },
    }),
    new Map([["cache", cachePlugin]]),
  );
  const get = () => running.request("/v1/cache/keys/k");
  const first = await get();
  await first.body?.cancel();
  assert.equal(first.status, 404);

  await redis.kill();
  const down = await get();
  const problem = await down.json();
  assert.equal(down.status, 503);
  assert.ok(Number(down.headers.get("retry-after")) >= 1);
  assert.ok(["cache.unavailable", "core.plugin_unavailable"].includes(problem.code), problem.code);

  await redis.start();
  await waitFor(async () => {
    const response = await get();
    await response.body?.cancel();
    return response.status === 404;
  }, "the routes to recover");
});

/**
 * The commands Redis runs while `work` does, as MONITOR on `redis` reports them (lower-cased
 * name first, then the arguments), up to an `ECHO` sent after it.
 */
async function commandsOf(redis: OwnRedis, work: () => Promise<unknown>): Promise<string[][]> {
  const marker = `edgebox-monitor-${crypto.randomUUID()}`;
  // monitor() opens a connection of its own; this one never connects
  const monitor = await new Redis(redis.url, { lazyConnect: true }).monitor();
  const ended = new Promise((resolve) => monitor.once("end", resolve));
  const seen: string[][] = [];
  let done = false;
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === "echo" && args[1] === marker) done = true;
    else if (!done) seen.push([args[0]!.toLowerCase(), ...args.slice(1)]);
  });
  const other = new Redis(redis.url, { lazyConnect: true });
  try {
    await other.connect();
    await other.ping(); // monitor is on once a later command shows
    await waitFor(() => seen.some(([name]) => name === "ping"), "MONITOR to start");
    seen.length = 0;
    await work();
    await other.echo(marker);
    await waitFor(() => done, "MONITOR to see the marker");
    return seen;
  } finally {
    monitor.disconnect();
    await ended;
    await other.quit();
  }
}

outageTest("a GET is one HGETALL, a DELETE one DEL: no Lua, no second command", async () => {
  await using redis = new OwnRedis();
  await redis.start();
  const prefix = "edgebox-test:";
  await using cache = new RedisCache(options(redis.url, { keyPrefix: prefix }));
  await cache.connect();
  await cache.set("k", new TextEncoder().encode("v"), { ttlMs: 60_000, contentType: "text/plain" });

  const get = await commandsOf(redis, () => cache.get("k"));
  const miss = await commandsOf(redis, () => cache.get("absent"));
  const del = await commandsOf(redis, () => cache.delete("k"));

  assert.deepEqual(get, [["hgetall", `${prefix}k`]]);
  assert.deepEqual(miss, [["hgetall", `${prefix}absent`]]);
  assert.deepEqual(del, [["del", `${prefix}k`]]);
});
