/**
 * Runs the cache contract against the SQLite cache (each driver on a file of its own in a fresh
 * temporary directory), then what only a durable store promises: everything comes back after a
 * restart, expiry and eviction reach the file, a damaged file is refused, and a failed commit
 * answers 503 until connect reloads the file.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { EdgeboxError } from "../../core/errors.ts";
import { DataFileError } from "../../core/sqlite.ts";
import { COUNTER_CONTENT_TYPE, DEFAULT_CONTENT_TYPE } from "../../plugins/cache/driver.ts";
import { SqliteCache, type SqliteCacheOptions } from "../../plugins/cache/sqlite.ts";
import { SANITIZED, waitFor } from "../_helpers.ts";
import { CONTRACT_LIMITS, runCacheContract } from "./cache_contract.ts";

const text = (value: string) => new TextEncoder().encode(value);
const decode = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);
const codeOf = (promise: Promise<unknown>) =>
  promise.then(() => undefined, (error) => (error as EdgeboxError).code);

/** A temporary directory, removed with everything in it when disposed. */
function tempDir(): Disposable & { file: string } {
  const path = Deno.makeTempDirSync({ prefix: "edgebox-cache-sqlite-" });
  return {
    file: join(path, "cache.db"),
    [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }),
  };
}

function options(file: string, overrides: Partial<SqliteCacheOptions> = {}): SqliteCacheOptions {
  return {
    keyPrefix: "",
    limits: CONTRACT_LIMITS,
    maxEntries: 100_000,
    maxBytes: 64 * 2 ** 20,
    sweepInterval: 1_000,
    durability: "normal",
    file: () => file,
    ...overrides,
  };
}

/** A connected driver on `file` (`await using` it). */
async function open(file: string, overrides: Partial<SqliteCacheOptions> = {}) {
  const cache = new SqliteCache(options(file, overrides));
  await cache.connect();
  return cache;
}

/** Reads the file behind the driver's back, as another process would. */
function query<T>(file: string, sql: string): T[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

function rowCount(file: string): number {
  return query<{ n: number }>(file, "SELECT count(*) AS n FROM entries")[0]!.n;
}

/** A driver that removes its temporary directory once closed (the contract only closes it). */
class TemporaryCache extends SqliteCache {
  readonly #dir: Disposable;
  #removed = false;

  constructor(dir: Disposable & { file: string }, overrides: Partial<SqliteCacheOptions>) {
    super(options(dir.file, overrides));
    this.#dir = dir;
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.#removed) return;
    this.#removed = true;
    this.#dir[Symbol.dispose]();
  }
}

runCacheContract({
  name: "sqlite",
  features: new SqliteCache(options("unused.db")).features,
  async open(contract) {
    const cache = new TemporaryCache(tempDir(), {
      keyPrefix: contract.keyPrefix,
      limits: contract.limits,
      ...(contract.defaultTtl === undefined ? {} : { defaultTtl: contract.defaultTtl }),
      ...(contract.maxEntries === undefined ? {} : { maxEntries: contract.maxEntries }),
      ...(contract.maxBytes === undefined ? {} : { maxBytes: contract.maxBytes }),
    });
    try {
      await cache.connect();
    } catch (error) {
      await cache.close();
      throw error;
    }
    return cache;
  },
});

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test(`sqlite cache: ${name}`, SANITIZED, fn);

test("values, content types, tags, TTLs, counters and hashes come back after a restart", async () => {
  using dir = tempDir();
  let now = 1_000_000;
  const clock = { now: () => now };
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const before = await (async () => {
    await using cache = await open(dir.file, clock);
    await cache.set("blob", bytes, { contentType: "image/png" });
    await cache.set("plain", text("no type"));
    await cache.set("empty", new Uint8Array(0), { contentType: "text/plain" });
    await cache.set("session", text("soon gone"), { ttlMs: 60_000 });
    await cache.incr("hits", { by: 41 });
    await cache.incr("hits");
    await cache.patchHash("user:1", { name: "Ada", "1": "one", role: "admin" });
    await cache.patchHash("user:1", { role: null }, { ttlMs: 120_000 });
    await cache.rateLimit("client", 2, 60_000);
    return {
      blob: (await cache.get("blob"))!.etag,
      plain: (await cache.get("plain"))!.etag,
      keys: (await cache.list({ limit: 100 })).keys,
    };
  })();
  now += 10_000;

  await using cache = await open(dir.file, clock);

  const blob = await cache.get("blob");
  assert.deepEqual(blob?.value, bytes);
  assert.equal(blob?.contentType, "image/png");
  assert.equal(blob?.etag, before.blob);
  assert.equal(blob?.ttlMs, undefined);
  const plain = await cache.get("plain");
  assert.equal(plain?.contentType, DEFAULT_CONTENT_TYPE);
  assert.equal(plain?.etag, before.plain);
  assert.deepEqual((await cache.get("empty"))?.value, new Uint8Array(0));
  assert.equal((await cache.get("session"))?.ttlMs, 50_000);
  assert.equal((await cache.get("hits"))?.contentType, COUNTER_CONTENT_TYPE);
  assert.equal(await cache.incr("hits"), 43);
  assert.deepEqual(await cache.getHash("user:1"), {
    fields: { name: "Ada", "1": "one" },
    ttlMs: 110_000,
  });
  assert.deepEqual((await cache.list({ limit: 100 })).keys, before.keys);
  assert.deepEqual(before.keys, ["blob", "plain", "empty", "session", "hits", "user:1"]);
  // The rate-limit window survives too: a restart is no way around a limit.
  const limited = await cache.rateLimit("client", 2, 60_000);
  assert.equal(limited.remaining, 0);
  assert.equal(limited.resetMs, 50_000);
});

test("deletes, field removals and overwrites are what comes back", async () => {
  using dir = tempDir();
  {
    await using cache = await open(dir.file);
    await cache.set("a", text("1"));
    await cache.set("b", text("2"));
    await cache.set("a", text("one"), { contentType: "text/plain" });
    await cache.delete("b");
    await cache.patchHash("h", { x: "1", y: "2" });
    await cache.deleteHashField("h", "x");
    await cache.batch({ set: [{ key: "c", value: text("3") }], delete: ["a"] });
  }

  await using cache = await open(dir.file);

  assert.equal(await cache.get("a"), undefined);
  assert.equal(await cache.get("b"), undefined);
  assert.equal(decode((await cache.get("c"))?.value), "3");
  assert.deepEqual((await cache.getHash("h"))?.fields, { y: "2" });
  assert.equal(rowCount(dir.file), 2);
});

test("an acknowledged write is in the file before the driver closes", async () => {
  using dir = tempDir();
  await using cache = await open(dir.file);

  await cache.set("k", text("v"), { contentType: "text/plain" });

  const rows = query<{ value: Uint8Array; content_type: string }>(
    dir.file,
    "SELECT value, content_type FROM entries",
  );
  assert.equal(rows.length, 1);
  assert.equal(decode(rows[0]!.value), "v");
  assert.equal(rows[0]!.content_type, "text/plain");
});

test("writes arriving together share one commit", async () => {
  using dir = tempDir();
  await using cache = await open(dir.file);
  const before = cache.stats.commits;

  await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, text(`${i}`))));

  assert.equal(cache.stats.commits, before + 1);
  assert.equal(rowCount(dir.file), 50);
});

test("an entry whose TTL passes while edgebox is down is gone after the restart", async () => {
  using dir = tempDir();
  let now = 1_000_000;
  {
    await using cache = await open(dir.file, { now: () => now });
    await cache.set("brief", text("v"), { ttlMs: 1_000 });
    await cache.patchHash("brief-hash", { f: "v" }, { ttlMs: 1_000 });
    await cache.set("kept", text("v"));
  }
  now += 1_000;

  await using cache = await open(dir.file, { now: () => now });

  assert.equal(await cache.get("brief"), undefined);
  assert.equal(await cache.getHash("brief-hash"), undefined);
  assert.ok(await cache.get("kept"));
  assert.deepEqual((await cache.list({ limit: 10 })).keys, ["kept"]);
  assert.equal(rowCount(dir.file), 1, "the expired rows are deleted from the file");
});

test("the sweeper deletes expired rows from the file, not only from memory", async () => {
  using dir = tempDir();
  let now = 1_000_000;
  await using cache = await open(dir.file, { now: () => now, sweepInterval: 10 });
  await cache.set("kept", text("v"));
  await cache.set("gone", text("v"), { ttlMs: 5 });
  assert.equal(rowCount(dir.file), 2);

  now += 10;

  await waitFor(() => rowCount(dir.file) === 1, "the sweep to reach the file");
  const rows = query<{ key: Uint8Array }>(dir.file, "SELECT key FROM entries");
  assert.equal(decode(rows[0]!.key), "kept");
});

test("maxEntries holds across a restart, and a lowered bound evicts the oldest rows", async () => {
  using dir = tempDir();
  {
    await using cache = await open(dir.file, { maxEntries: 3 });
    for (const key of ["a", "b", "c", "d", "e"]) await cache.set(key, text(key));
    assert.equal(rowCount(dir.file), 3, "evicted entries leave the file");
  }
  {
    await using cache = await open(dir.file, { maxEntries: 3 });
    assert.deepEqual((await cache.list({ limit: 10 })).keys, ["c", "d", "e"]);
    await cache.set("f", text("f"));
    assert.deepEqual((await cache.list({ limit: 10 })).keys, ["d", "e", "f"]);
  }

  await using cache = await open(dir.file, { maxEntries: 2 });

  assert.deepEqual((await cache.list({ limit: 10 })).keys, ["e", "f"]);
  assert.equal(rowCount(dir.file), 2);
});

test("a listing cursor taken before a restart continues after it", async () => {
  using dir = tempDir();
  let cursor: string | undefined;
  {
    await using cache = await open(dir.file);
    for (const key of ["a", "b", "c"]) await cache.set(key, text(key));
    cursor = (await cache.list({ limit: 1 })).cursor;
  }

  await using cache = await open(dir.file);
  await cache.set("d", text("d"));

  assert.ok(cursor !== undefined);
  assert.deepEqual((await cache.list({ limit: 10, cursor })).keys, ["b", "c", "d"]);
});

test("purge empties the file", async () => {
  using dir = tempDir();
  await using cache = await open(dir.file);
  for (const key of ["a", "b", "c"]) await cache.set(key, text(key));

  assert.equal(await cache.purge(), 3);

  assert.equal(rowCount(dir.file), 0);
});

test("a damaged file is refused with a DataFileError naming it", async () => {
  using dir = tempDir();
  Deno.writeFileSync(dir.file, crypto.getRandomValues(new Uint8Array(8_192)));
  const cache = new SqliteCache(options(dir.file));

  const error = await cache.connect().then(() => undefined, (e) => e);

  assert.ok(error instanceof DataFileError, String(error));
  assert.ok(error.message.includes(dir.file), error.message);
  assert.equal((await cache.ping()).status, "down");
  assert.equal(await codeOf(cache.get("k")), "cache.unavailable");
  await cache.close();
});

test("a file whose data pages are damaged after a clean close is refused", async () => {
  using dir = tempDir();
  {
    await using cache = await open(dir.file);
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, new Uint8Array(1_000).fill(i));
  }
  // Checkpointed and closed: the WAL is gone, so damaging the main file damages the data.
  const data = Deno.readFileSync(dir.file);
  data.fill(0xff, 4_096, data.byteLength);
  Deno.writeFileSync(dir.file, data);

  const error = await open(dir.file).then(() => undefined, (e) => e);

  assert.ok(error instanceof DataFileError, String(error));
  assert.ok(error.message.includes(dir.file), error.message);
});

test("a row edgebox cannot load is refused with a DataFileError naming the file", async () => {
  using dir = tempDir();
  {
    await using cache = await open(dir.file);
    for (const key of ["a", "b", "c"]) await cache.set(key, text(key));
  }
  // Two entries claiming one creation order: a file no edgebox wrote.
  const writer = new DatabaseSync(dir.file);
  writer.exec("UPDATE entries SET seq = 2 WHERE seq = 3");
  writer.close();

  // A bound of one evicts while loading, so a commit is pending when the load fails.
  const error = await open(dir.file, { maxEntries: 1 }).then(() => undefined, (e) => e);

  assert.ok(error instanceof DataFileError, String(error));
  assert.ok(error.message.includes(dir.file), error.message);
});

test("durability fsync opens, writes and reads back", async () => {
  using dir = tempDir();
  {
    await using cache = await open(dir.file, { durability: "fsync" });
    await cache.set("k", text("v"));
  }

  await using cache = await open(dir.file, { durability: "fsync" });

  assert.equal(decode((await cache.get("k"))?.value), "v");
});

test("a failed commit answers 503, reports down, and connect reloads the file", async () => {
  using dir = tempDir();
  await using cache = await open(dir.file);
  await cache.set("committed", text("yes"));
  // Another connection makes every insert fail, as a full disk would.
  const saboteur = new DatabaseSync(dir.file);
  try {
    saboteur.exec(
      "CREATE TRIGGER full BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'disk is full'); END",
    );

    const error = await cache.set("lost", text("no")).then(() => undefined, (e) => e);

    assert.equal((error as EdgeboxError).code, "cache.unavailable");
    assert.equal((error as EdgeboxError).status, 503);
    const health = await cache.ping();
    assert.equal(health.status, "down");
    assert.ok(health.detail?.includes("disk is full"), health.detail);
    assert.equal(await codeOf(cache.get("committed")), "cache.unavailable");
    assert.equal(await codeOf(cache.set("other", text("v"))), "cache.unavailable");

    saboteur.exec("DROP TRIGGER full");
  } finally {
    saboteur.close();
  }

  await cache.connect();

  assert.equal((await cache.ping()).status, "ready");
  assert.equal(decode((await cache.get("committed"))?.value), "yes");
  assert.equal(await cache.get("lost"), undefined, "what was never committed is not served");
  await cache.set("after", text("v"));
  assert.equal(rowCount(dir.file), 2);
});

test("close commits, is safe twice, and connect opens the file again", async () => {
  using dir = tempDir();
  const cache = await open(dir.file);
  await cache.set("k", text("v"));

  await cache.close();
  await cache.close();
  assert.equal((await cache.ping()).status, "down");
  assert.equal(await codeOf(cache.get("k")), "cache.unavailable");

  await cache.connect();
  try {
    assert.equal(decode((await cache.get("k"))?.value), "v");
  } finally {
    await cache.close();
  }
});
