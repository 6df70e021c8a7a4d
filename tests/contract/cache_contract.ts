/**
 * The cache contract: what every cache driver must do, written once and run against each (the
 * in-memory store always, Redis when it is reachable). Every test works under a key prefix of
 * its own (a random UUID), so runs against a shared Redis never see each other, and it purges
 * what it wrote when it ends.
 */
import assert from "node:assert/strict";
import type { EdgeboxError } from "../../core/errors.ts";
import {
  type CacheDriver,
  type CacheFeature,
  type CacheLimits,
  COUNTER_CONTENT_TYPE,
  DEFAULT_CONTENT_TYPE,
} from "../../plugins/cache/driver.ts";
import { MAX_CURSOR_LENGTH } from "../../plugins/cache/cursor.ts";
import { SANITIZED, waitFor } from "../_helpers.ts";

/** Limits of a driver under test unless a test asks for others. */
export const CONTRACT_LIMITS: CacheLimits = {
  maxKeyBytes: 512,
  maxFieldBytes: 256,
  maxValueSize: 64 * 1024,
  maxHashFields: 1_024,
};

/** What a test may ask of its driver. */
export interface ContractOptions {
  keyPrefix: string;
  limits: CacheLimits;
  defaultTtl?: number;
  /** The `lru` bounds (drivers without the feature ignore them). */
  maxEntries?: number;
  maxBytes?: number;
}

/** How the suite reaches one driver. */
export interface CacheContractTarget {
  /** Shown in test names: `memory`, `redis`. */
  name: string;
  /** The features its driver declares (read from an unconnected instance): which blocks run. */
  features: ReadonlySet<CacheFeature>;
  /** A connected driver with these options. */
  open(options: ContractOptions): Promise<CacheDriver>;
}

/** One test's driver under a prefix no other test or run uses. */
interface Fixture extends AsyncDisposable {
  cache: CacheDriver;
  prefix: string;
}

type FixtureOptions = Partial<Omit<ContractOptions, "limits">> & { limits?: Partial<CacheLimits> };

const text = (value: string) => new TextEncoder().encode(value);
const decode = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);
const codeOf = (promise: Promise<unknown>) =>
  promise.then(() => undefined, (error) => (error as EdgeboxError).code);

/** The tag a value must have, computed here independently of the drivers (WebCrypto). */
async function sha1Tag(contentType: string, value: Uint8Array): Promise<string> {
  const input = new Uint8Array([...text(`${contentType}\n`), ...value]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input));
  return `"${digest.toHex()}"`;
}

/** Registers the whole suite against `target`; a feature's block runs only where declared. */
export function runCacheContract(target: CacheContractTarget): void {
  const declared = target.features;
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`cache contract (${target.name}): ${name}`, SANITIZED, fn);

  async function fixture(options: FixtureOptions = {}): Promise<Fixture> {
    const prefix = options.keyPrefix ?? `edgebox-test:${crypto.randomUUID()}:`;
    const cache = await target.open({
      ...options,
      keyPrefix: prefix,
      limits: { ...CONTRACT_LIMITS, ...options.limits },
    });
    return {
      cache,
      prefix,
      async [Symbol.asyncDispose]() {
        try {
          await cache.purge();
        } finally {
          await cache.close();
        }
      },
    };
  }

  /** Every key a listing yields, following cursors to the end, with the pages it took. */
  async function listAll(cache: CacheDriver, limit: number, prefix?: string) {
    const keys: string[] = [];
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await cache.list({
        limit,
        ...(prefix === undefined ? {} : { prefix }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      pages.push(page.keys);
      keys.push(...page.keys);
      cursor = page.cursor;
      assert.ok(pages.length < 10_000, "the listing never ends");
    } while (cursor !== undefined);
    return { keys, pages };
  }

  // --- values -------------------------------------------------------------------------------

  test("a binary value round-trips with its content type", async () => {
    await using x = await fixture();
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);

    await x.cache.set("blob", bytes, { contentType: "image/png" });
    const entry = await x.cache.get("blob");

    assert.deepEqual(new Uint8Array(entry!.value), bytes);
    assert.equal(entry!.contentType, "image/png");
  });

  test("a value stored without a content type reads as application/octet-stream", async () => {
    await using x = await fixture();

    await x.cache.set("plain", text("x"));

    assert.equal((await x.cache.get("plain"))?.contentType, DEFAULT_CONTENT_TYPE);
  });

  test("an empty value is stored and read back", async () => {
    await using x = await fixture();

    await x.cache.set("empty", new Uint8Array());

    assert.equal((await x.cache.get("empty"))?.value.byteLength, 0);
  });

  test("a missing key reads as undefined", async () => {
    await using x = await fixture();

    assert.equal(await x.cache.get("nothing"), undefined);
    assert.equal(await x.cache.stat("nothing"), undefined);
  });

  test("set reports created, then replaced", async () => {
    await using x = await fixture();

    assert.equal(await x.cache.set("k", text("1")), "created");
    assert.equal(await x.cache.set("k", text("2")), "replaced");
    assert.equal(decode((await x.cache.get("k"))?.value), "2");
  });

  test("delete removes the key and reports whether it existed", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v"), { contentType: "text/plain" });

    assert.equal(await x.cache.delete("k"), true);
    assert.equal(await x.cache.get("k"), undefined);
    assert.equal(await x.cache.delete("k"), false);
  });

  test("stat reports size, content type and TTL without the bytes", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("hello"), { contentType: "text/plain", ttlMs: 60_000 });

    const info = await x.cache.stat("k");

    assert.equal(info?.size, 5);
    assert.equal(info?.contentType, "text/plain");
    assert.ok(info!.ttlMs! > 0 && info!.ttlMs! <= 60_000);
  });

  test("a value of maxValueSize is stored; one byte more is value_too_large", async () => {
    await using x = await fixture({ limits: { maxValueSize: 1_024 } });

    assert.equal(await x.cache.set("fits", new Uint8Array(1_024)), "created");
    assert.equal(await codeOf(x.cache.set("big", new Uint8Array(1_025))), "cache.value_too_large");
    assert.equal(await x.cache.get("big"), undefined);
  });

  test("keys of 1 to maxKeyBytes bytes of UTF-8 are accepted", async () => {
    await using x = await fixture({ limits: { maxKeyBytes: 16 } });
    const keys = ["a", "é".repeat(8), "🙂🙂🙂🙂", "with space", "a*b?[c]\\d"];

    for (const key of keys) await x.cache.set(key, text(key));

    for (const key of keys) assert.equal(decode((await x.cache.get(key))?.value), key);
  });

  test("an empty, too long, control-character or lone-surrogate key is key_invalid", async () => {
    await using x = await fixture({ limits: { maxKeyBytes: 16 } });

    for (const key of ["", "x".repeat(17), "é".repeat(9), "a\u0000b", "tab\tkey", "\ud800"]) {
      assert.equal(await codeOf(x.cache.set(key, text("v"))), "cache.key_invalid", key);
      assert.equal(await codeOf(x.cache.get(key)), "cache.key_invalid", key);
    }
  });

  test("a key or field with a . or .. segment is invalid: no request path can address it", async () => {
    await using x = await fixture();
    const refused = [".", "..", "a/..", "../a", "a/./b", "a\\..", ".\\a"];

    for (const key of refused) {
      assert.equal(await codeOf(x.cache.set(key, text("v"))), "cache.key_invalid", key);
      assert.equal(
        await codeOf(x.cache.patchHash("h", { [key]: "v" })),
        "cache.field_invalid",
        key,
      );
    }
    for (const key of [".a", "...", "a.b", "a/.b/c", "..a", "a/...", "%2e%2e"]) {
      assert.equal(await x.cache.set(key, text(key)), "created", key);
    }
    assert.deepEqual(
      (await listAll(x.cache, 100)).keys.sort(),
      [".a", "...", "a.b", "a/.b/c", "..a", "a/...", "%2e%2e"].sort(),
    );
  });

  // --- TTL ----------------------------------------------------------------------------------

  test("a value with a TTL reports it, then is gone after it", async () => {
    await using x = await fixture();

    await x.cache.set("short", text("v"), { ttlMs: 80 });
    const ttl = (await x.cache.get("short"))?.ttlMs;

    assert.ok(ttl !== undefined && ttl > 0 && ttl <= 80, `ttl ${ttl}`);
    await waitFor(async () => (await x.cache.get("short")) === undefined, "the value to expire");
    assert.equal(await x.cache.stat("short"), undefined);
  });

  test("a value without a TTL reports none", async () => {
    await using x = await fixture();

    await x.cache.set("forever", text("v"));

    assert.equal((await x.cache.get("forever"))?.ttlMs, undefined);
  });

  test("defaultTtl applies to writes that ask for no TTL", async () => {
    await using x = await fixture({ defaultTtl: 60_000 });

    await x.cache.set("k", text("v"));
    const ttl = (await x.cache.get("k"))?.ttlMs;

    assert.ok(ttl !== undefined && ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
  });

  test("replacing a value replaces its TTL with the new write's", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v1"), { ttlMs: 60_000 });

    await x.cache.set("k", text("v2"));

    assert.equal((await x.cache.get("k"))?.ttlMs, undefined);
  });

  test("an expired key can be created again with ifAbsent", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("old"), { ttlMs: 30 });
    await waitFor(async () => (await x.cache.get("k")) === undefined, "the value to expire");

    assert.equal(await x.cache.set("k", text("new"), { ifAbsent: true }), "created");
  });

  // --- create-if-absent ---------------------------------------------------------------------

  test("ifAbsent stores only when the key holds nothing", async () => {
    await using x = await fixture();

    assert.equal(await x.cache.set("k", text("first"), { ifAbsent: true }), "created");
    assert.equal(await x.cache.set("k", text("second"), { ifAbsent: true }), "exists");
    assert.equal(decode((await x.cache.get("k"))?.value), "first");
  });

  test("of 20 concurrent ifAbsent sets exactly one creates the key", async () => {
    await using x = await fixture();

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => x.cache.set("race", text(`w${i}`), { ifAbsent: true })),
    );

    const winners = outcomes.flatMap((outcome, i) => (outcome === "created" ? [i] : []));
    assert.equal(winners.length, 1);
    assert.equal(outcomes.filter((o) => o === "exists").length, 19);
    assert.equal(decode((await x.cache.get("race"))?.value), `w${winners[0]}`);
  });

  // --- entity tags and If-Match -------------------------------------------------------------

  test("get and stat answer the SHA-1 of content type, newline and bytes as the tag", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("hello"), { contentType: "text/plain" });

    const expected = await sha1Tag("text/plain", text("hello"));

    assert.equal((await x.cache.get("k"))?.etag, expected);
    assert.equal((await x.cache.stat("k"))?.etag, expected);
  });

  test("a value stored without a content type is tagged as application/octet-stream", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v"));

    assert.equal((await x.cache.get("k"))?.etag, await sha1Tag(DEFAULT_CONTENT_TYPE, text("v")));
  });

  test("the tag follows the content: bytes and content type change it, a TTL does not", async () => {
    await using x = await fixture();
    const tag = async () => (await x.cache.get("k"))?.etag;
    await x.cache.set("k", text("a"), { contentType: "text/plain" });
    const first = await tag();

    await x.cache.set("k", text("a"), { contentType: "text/plain", ttlMs: 60_000 });
    const sameContent = await tag();
    await x.cache.set("k", text("b"), { contentType: "text/plain" });
    const otherBytes = await tag();
    await x.cache.set("k", text("a"), { contentType: "text/html" });
    const otherType = await tag();

    assert.equal(sameContent, first);
    assert.notEqual(otherBytes, first);
    assert.notEqual(otherType, first);
  });

  test("a counter's tag changes as it counts", async () => {
    await using x = await fixture();
    await x.cache.incr("n");
    const before = (await x.cache.get("n"))?.etag;

    await x.cache.incr("n");

    assert.equal(before, await sha1Tag(COUNTER_CONTENT_TYPE, text("1")));
    assert.equal((await x.cache.get("n"))?.etag, await sha1Tag(COUNTER_CONTENT_TYPE, text("2")));
  });

  test("ifMatch with the current tag replaces the value", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v1"));
    const tag = (await x.cache.get("k"))!.etag;

    assert.equal(await x.cache.set("k", text("v2"), { ifMatch: ['"other"', tag] }), "replaced");
    assert.equal(decode((await x.cache.get("k"))?.value), "v2");
  });

  test("ifMatch with a stale tag is precondition_failed and keeps the value", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v1"));
    const stale = (await x.cache.get("k"))!.etag;
    await x.cache.set("k", text("v2"), { ttlMs: 60_000 });

    const outcome = await x.cache.set("k", text("v3"), { ifMatch: [stale] });

    assert.equal(outcome, "precondition_failed");
    const entry = await x.cache.get("k");
    assert.equal(decode(entry?.value), "v2");
    assert.ok(entry!.ttlMs! > 0, "the failed write left the TTL alone");
  });

  test("a weak form of the current tag never satisfies ifMatch", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v1"));
    const tag = (await x.cache.get("k"))!.etag;

    assert.equal(
      await x.cache.set("k", text("v2"), { ifMatch: [`W/${tag}`] }),
      "precondition_failed",
    );
  });

  test("ifMatch on an absent key is precondition_failed and creates nothing", async () => {
    await using x = await fixture();
    const tag = await sha1Tag(DEFAULT_CONTENT_TYPE, text("v"));

    assert.equal(await x.cache.set("k", text("v"), { ifMatch: [tag] }), "precondition_failed");
    assert.equal(await x.cache.set("k", text("v"), { ifMatch: "*" }), "precondition_failed");
    assert.equal(await x.cache.get("k"), undefined);
  });

  test("ifMatch * replaces whatever the key holds, a hash included", async () => {
    await using x = await fixture();
    await x.cache.set("v", text("old"));
    await x.cache.patchHash("h", { f: "1" });

    assert.equal(await x.cache.set("v", text("new"), { ifMatch: "*" }), "replaced");
    assert.equal(await x.cache.set("h", text("new"), { ifMatch: "*" }), "replaced");
    assert.equal(decode((await x.cache.get("h"))?.value), "new");
  });

  test("a list of tags never matches a hash", async () => {
    await using x = await fixture();
    await x.cache.patchHash("h", { f: "1" });
    const tag = await sha1Tag(DEFAULT_CONTENT_TYPE, text(""));

    assert.equal(await x.cache.set("h", text("v"), { ifMatch: [tag] }), "precondition_failed");
    assert.deepEqual((await x.cache.getHash("h"))?.fields, { f: "1" });
  });

  test("ifMatch is decided before ifAbsent", async () => {
    await using x = await fixture();

    const absent = await x.cache.set("k", text("v"), { ifMatch: "*", ifAbsent: true });
    await x.cache.set("k", text("v"));
    const present = await x.cache.set("k", text("w"), { ifMatch: "*", ifAbsent: true });

    assert.equal(absent, "precondition_failed");
    assert.equal(present, "exists");
    assert.equal(decode((await x.cache.get("k"))?.value), "v");
  });

  test("of 20 concurrent sets with the same ifMatch tag exactly one replaces", async () => {
    await using x = await fixture();
    await x.cache.set("cas", text("start"));
    const tag = (await x.cache.get("cas"))!.etag;

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => x.cache.set("cas", text(`w${i}`), { ifMatch: [tag] })),
    );

    const winners = outcomes.flatMap((outcome, i) => (outcome === "replaced" ? [i] : []));
    assert.equal(winners.length, 1);
    assert.equal(outcomes.filter((o) => o === "precondition_failed").length, 19);
    assert.equal(decode((await x.cache.get("cas"))?.value), `w${winners[0]}`);
  });

  test("delete with the current tag removes the key", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v"), { contentType: "text/plain" });
    const tag = (await x.cache.get("k"))!.etag;

    assert.equal(await x.cache.delete("k", { ifMatch: [tag] }), true);
    assert.equal(await x.cache.get("k"), undefined);
  });

  test("delete with a stale tag is precondition_failed and keeps the key", async () => {
    await using x = await fixture();
    await x.cache.set("k", text("v1"));
    const stale = (await x.cache.get("k"))!.etag;
    await x.cache.set("k", text("v2"));

    const code = await codeOf(x.cache.delete("k", { ifMatch: [stale] }));

    assert.equal(code, "cache.precondition_failed");
    assert.equal(decode((await x.cache.get("k"))?.value), "v2");
  });

  test("a conditional delete of an absent key answers false", async () => {
    await using x = await fixture();

    assert.equal(await x.cache.delete("k", { ifMatch: ['"x"'] }), false);
    assert.equal(await x.cache.delete("k", { ifMatch: "*" }), false);
  });

  test("delete with ifMatch * removes a value or a hash; a tag list never a hash", async () => {
    await using x = await fixture();
    await x.cache.set("v", text("x"));
    await x.cache.patchHash("h", { f: "1" });

    assert.equal(
      await codeOf(x.cache.delete("h", { ifMatch: ['"x"'] })),
      "cache.precondition_failed",
    );
    assert.equal(await x.cache.delete("v", { ifMatch: "*" }), true);
    assert.equal(await x.cache.delete("h", { ifMatch: "*" }), true);
    assert.equal(await x.cache.getHash("h"), undefined);
  });

  // --- counters -----------------------------------------------------------------------------

  test("incr creates a counter at 0 and adds to it", async () => {
    await using x = await fixture();

    assert.equal(await x.cache.incr("n", { by: 5 }), 5);
    assert.equal(await x.cache.incr("n"), 6);
    assert.equal(await x.cache.incr("n", { by: -10 }), -4);
    const entry = await x.cache.get("n");
    assert.equal(decode(entry?.value), "-4");
    assert.equal(entry?.contentType, COUNTER_CONTENT_TYPE);
  });

  test("incr counts a value that holds an integer", async () => {
    await using x = await fixture();
    await x.cache.set("n", text("41"));

    assert.equal(await x.cache.incr("n"), 42);
  });

  test("50 concurrent incr calls add up exactly", async () => {
    await using x = await fixture();

    const values = await Promise.all(
      Array.from({ length: 50 }, () => x.cache.incr("hits", { by: 2 })),
    );

    assert.equal(decode((await x.cache.get("hits"))?.value), "100");
    assert.deepEqual(
      [...values].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => 2 * (i + 1)),
    );
  });

  test("incr on a value that is not an integer is not_integer and leaves it unchanged", async () => {
    await using x = await fixture();

    for (const value of ["abc", "1.5", " 1", "01", ""]) {
      await x.cache.set("k", text(value));
      assert.equal(await codeOf(x.cache.incr("k")), "cache.not_integer", JSON.stringify(value));
      assert.equal(decode((await x.cache.get("k"))?.value), value);
    }
  });

  test("incr past the 64-bit range is not_integer", async () => {
    await using x = await fixture();
    await x.cache.set("max", text("9223372036854775807"));

    assert.equal(await codeOf(x.cache.incr("max")), "cache.not_integer");
  });

  test("incr's TTL applies to a counter it creates; an existing one keeps its own", async () => {
    await using x = await fixture();

    await x.cache.incr("fresh", { ttlMs: 60_000 });
    await x.cache.set("kept", text("1"));
    await x.cache.incr("kept", { ttlMs: 60_000 });

    const ttl = (await x.cache.stat("fresh"))?.ttlMs;
    assert.ok(ttl !== undefined && ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
    assert.equal((await x.cache.stat("kept"))?.ttlMs, undefined);
  });

  // --- hashes -------------------------------------------------------------------------------

  test("patchHash creates a hash and getHash reads its fields", async () => {
    await using x = await fixture();

    const first = await x.cache.patchHash("session", { user: "ada", theme: "dark" });
    const second = await x.cache.patchHash("session", { theme: "light", lang: "en" });

    assert.deepEqual(first, { size: 2, created: true });
    assert.deepEqual(second, { size: 3, created: false });
    assert.deepEqual((await x.cache.getHash("session"))?.fields, {
      user: "ada",
      theme: "light",
      lang: "en",
    });
  });

  test("a null field value removes the field; removing the last removes the hash", async () => {
    await using x = await fixture();
    await x.cache.patchHash("h", { a: "1", b: "2" });

    assert.deepEqual(await x.cache.patchHash("h", { a: null }), { size: 1, created: false });
    assert.deepEqual((await x.cache.getHash("h"))?.fields, { b: "2" });
    assert.deepEqual(await x.cache.patchHash("h", { b: null }), { size: 0, created: false });
    assert.equal(await x.cache.getHash("h"), undefined);
  });

  test("hash fields may be named like object properties", async () => {
    await using x = await fixture();
    const fields = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}');

    await x.cache.patchHash("h", fields);

    assert.deepEqual(Object.entries((await x.cache.getHash("h"))!.fields).sort(), [
      ["__proto__", "p"],
      ["constructor", "c"],
      ["toString", "t"],
    ]);
  });

  test("deleteHashField reports whether the field existed", async () => {
    await using x = await fixture();
    await x.cache.patchHash("h", { a: "1", b: "2" });

    assert.equal(await x.cache.deleteHashField("h", "a"), true);
    assert.equal(await x.cache.deleteHashField("h", "a"), false);
    assert.equal(await x.cache.deleteHashField("absent", "a"), false);
    assert.deepEqual((await x.cache.getHash("h"))?.fields, { b: "2" });
  });

  test("a patch that would pass maxHashFields is hash_full and changes nothing", async () => {
    await using x = await fixture({ limits: { maxHashFields: 3 } });
    await x.cache.patchHash("h", { a: "1", b: "2" });

    assert.equal(await codeOf(x.cache.patchHash("h", { c: "3", d: "4" })), "cache.hash_full");
    assert.deepEqual((await x.cache.getHash("h"))?.fields, { a: "1", b: "2" });
    assert.deepEqual(await x.cache.patchHash("h", { a: null, c: "3", d: "4" }), {
      size: 3,
      created: false,
    });
  });

  test("a hash with a TTL expires whole", async () => {
    await using x = await fixture();

    await x.cache.patchHash("h", { a: "1" }, { ttlMs: 80 });
    const ttl = (await x.cache.getHash("h"))?.ttlMs;

    assert.ok(ttl !== undefined && ttl > 0 && ttl <= 80, `ttl ${ttl}`);
    await waitFor(async () => (await x.cache.getHash("h")) === undefined, "the hash to expire");
  });

  test("a value and a hash are wrong_type to each other's operations", async () => {
    await using x = await fixture();
    await x.cache.set("value", text("1"));
    await x.cache.patchHash("hash", { a: "1" });

    assert.equal(await codeOf(x.cache.get("hash")), "cache.wrong_type");
    assert.equal(await codeOf(x.cache.stat("hash")), "cache.wrong_type");
    assert.equal(await codeOf(x.cache.incr("hash")), "cache.wrong_type");
    assert.equal(await codeOf(x.cache.getHash("value")), "cache.wrong_type");
    assert.equal(await codeOf(x.cache.patchHash("value", { a: "1" })), "cache.wrong_type");
    assert.equal(await codeOf(x.cache.deleteHashField("value", "a")), "cache.wrong_type");
  });

  test("set replaces a hash with a value", async () => {
    await using x = await fixture();
    await x.cache.patchHash("k", { a: "1" });

    assert.equal(await x.cache.set("k", text("v")), "replaced");
    assert.equal(decode((await x.cache.get("k"))?.value), "v");
  });

  // --- batch --------------------------------------------------------------------------------

  test("a batch applies its sets, then its deletes, then its gets", async () => {
    await using x = await fixture();
    await x.cache.set("old", text("o"));

    const result = await x.cache.batch({
      set: [
        { key: "a", value: text("A"), contentType: "text/plain", ttlMs: 60_000 },
        { key: "old", value: text("O") },
        { key: "b", value: text("B") },
      ],
      delete: ["b", "missing"],
      get: ["a", "b", "old", "missing"],
    });

    assert.deepEqual(result.set, ["created", "replaced", "created"]);
    assert.deepEqual(result.delete, [true, false]);
    assert.deepEqual(result.get.map((g) => g.status), ["hit", "miss", "hit", "miss"]);
    const a = result.get[0]!;
    assert.ok(a.status === "hit");
    assert.equal(decode(a.entry.value), "A");
    assert.equal(a.entry.contentType, "text/plain");
    assert.ok(a.entry.ttlMs! > 0 && a.entry.ttlMs! <= 60_000);
  });

  test("a batch get of a hash answers wrong_type without failing the batch", async () => {
    await using x = await fixture();
    await x.cache.patchHash("h", { a: "1" });
    await x.cache.set("v", text("1"));

    const result = await x.cache.batch({ get: ["h", "v"] });

    assert.deepEqual(result.get.map((g) => g.status), ["wrong_type", "hit"]);
  });

  test("a batch with an invalid item writes nothing", async () => {
    await using x = await fixture({ limits: { maxValueSize: 16 } });

    const code = await codeOf(x.cache.batch({
      set: [{ key: "ok", value: text("fine") }, { key: "big", value: new Uint8Array(17) }],
      delete: [],
    }));

    assert.equal(code, "cache.value_too_large");
    assert.equal(await x.cache.get("ok"), undefined);
  });

  // --- listing ------------------------------------------------------------------------------

  test("listing pages through every key exactly once, at most limit per page", async () => {
    await using x = await fixture();
    const written = Array.from({ length: 53 }, (_, i) => `item:${String(i).padStart(3, "0")}`);
    await x.cache.batch({ set: written.map((key) => ({ key, value: text(key) })) });

    const { keys, pages } = await listAll(x.cache, 7);

    assert.deepEqual([...keys].sort(), written);
    assert.ok(pages.every((page) => page.length <= 7));
  });

  test("a listing of long keys one per page stays exactly-once with every cursor short enough to send back", async () => {
    const maxKeyBytes = 4_096;
    await using x = await fixture({ limits: { maxKeyBytes } });
    const written = Array.from(
      { length: 120 },
      (_, i) => `long:${String(i).padStart(4, "0")}:`.padEnd(maxKeyBytes - 8, "k"),
    );
    for (let i = 0; i < written.length; i += 40) {
      await x.cache.batch({
        set: written.slice(i, i + 40).map((key) => ({ key, value: text("v") })),
      });
    }

    const keys: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0;; pages++) {
      assert.ok(pages < 10_000, "the listing never ends");
      const page = await x.cache.list({ limit: 1, ...(cursor === undefined ? {} : { cursor }) });
      assert.ok(page.keys.length <= 1);
      keys.push(...page.keys);
      cursor = page.cursor;
      if (cursor === undefined) break;
      assert.ok(cursor.length <= MAX_CURSOR_LENGTH, `a cursor of ${cursor.length} characters`);
    }

    assert.deepEqual([...keys].sort(), written);
  });

  test("listing by prefix returns only keys that start with it", async () => {
    await using x = await fixture();
    const keys = ["user:1", "user:2", "user:10", "users", "order:1", "u*er:3", "user?"];
    await x.cache.batch({ set: keys.map((key) => ({ key, value: text(key) })) });

    assert.deepEqual((await listAll(x.cache, 2, "user:")).keys.sort(), [
      "user:1",
      "user:10",
      "user:2",
    ]);
    assert.deepEqual((await listAll(x.cache, 100, "u*")).keys, ["u*er:3"]);
    assert.deepEqual((await listAll(x.cache, 100, "user?")).keys, ["user?"]);
  });

  test("listing shows values and hashes, never the cache's own bookkeeping", async () => {
    await using x = await fixture();
    await x.cache.set("typed", text("v"), { contentType: "application/json" });
    await x.cache.patchHash("hash", { a: "1" });
    await x.cache.rateLimit("client", 10, 60_000);

    assert.deepEqual((await listAll(x.cache, 100)).keys.sort(), ["hash", "typed"]);
  });

  test("listing skips expired keys", async () => {
    await using x = await fixture();
    await x.cache.set("gone", text("v"), { ttlMs: 30 });
    await x.cache.set("kept", text("v"));
    await waitFor(async () => (await x.cache.get("gone")) === undefined, "the value to expire");

    assert.deepEqual((await listAll(x.cache, 100)).keys, ["kept"]);
  });

  test("a cursor the driver did not make is cursor_invalid", async () => {
    await using x = await fixture();

    for (const cursor of ["garbage", "eyJ4Ijp0cnVlfQ", btoa('["x",1]')]) {
      assert.equal(await codeOf(x.cache.list({ limit: 10, cursor })), "cache.cursor_invalid");
    }
  });

  test("a cursor sent with another prefix is cursor_invalid, never a silent skip", async () => {
    await using x = await fixture();
    const keys = ["a:1", "a:2", "a:3", "b:1", "b:2"];
    await x.cache.batch({ set: keys.map((key) => ({ key, value: text(key) })) });
    const { cursor } = await x.cache.list({ limit: 1, prefix: "a:" });
    assert.ok(cursor !== undefined, "three keys on pages of one leave a next page");

    for (const prefix of ["b:", "", "a"]) {
      assert.equal(
        await codeOf(x.cache.list({ limit: 1, prefix, cursor })),
        "cache.cursor_invalid",
        prefix,
      );
    }
  });

  test("a cursor of a driver under another key prefix is cursor_invalid", async () => {
    await using one = await fixture();
    await using two = await fixture();
    for (const x of [one, two]) {
      await x.cache.batch({ set: ["k1", "k2", "k3"].map((key) => ({ key, value: text(key) })) });
    }
    const { cursor } = await one.cache.list({ limit: 1 });
    assert.ok(cursor !== undefined, "three keys on pages of one leave a next page");

    assert.equal(await codeOf(two.cache.list({ limit: 1, cursor })), "cache.cursor_invalid");
  });

  test("a page limit outside 1 to 10000 is a validation error", async () => {
    await using x = await fixture();

    for (const limit of [0, 10_001, 1.5]) {
      assert.equal(await codeOf(x.cache.list({ limit })), "core.validation_failed", String(limit));
    }
  });

  // --- isolation ----------------------------------------------------------------------------

  test("two drivers under different prefixes never see each other's keys", async () => {
    await using one = await fixture();
    await using two = await fixture();
    await one.cache.set("same", text("one"));
    await two.cache.set("same", text("two"));
    await one.cache.rateLimit("client", 1, 60_000);

    assert.equal(decode((await one.cache.get("same"))?.value), "one");
    assert.equal(decode((await two.cache.get("same"))?.value), "two");
    assert.equal((await two.cache.rateLimit("client", 1, 60_000)).allowed, true);
    await one.cache.purge();
    assert.equal(decode((await two.cache.get("same"))?.value), "two");
    assert.deepEqual((await listAll(two.cache, 10)).keys, ["same"]);
  });

  if (declared.has("shared")) {
    test("(shared) two drivers under the same prefix see the same entries", async () => {
      await using one = await fixture();
      await using two = await fixture({ keyPrefix: one.prefix });

      await one.cache.set("k", text("v"));
      await one.cache.rateLimit("client", 1, 60_000);

      assert.equal(decode((await two.cache.get("k"))?.value), "v");
      assert.equal((await two.cache.rateLimit("client", 1, 60_000)).allowed, false);
    });
  } else {
    test("(not shared) two drivers under the same prefix keep separate entries", async () => {
      await using one = await fixture();
      await using two = await fixture({ keyPrefix: one.prefix });

      await one.cache.set("k", text("v"));

      assert.equal(await two.cache.get("k"), undefined);
    });
  }

  // --- LRU bound ----------------------------------------------------------------------------

  if (declared.has("lru")) {
    test("(lru) past maxEntries the least recently used entry is evicted", async () => {
      await using x = await fixture({ maxEntries: 3 });
      for (const key of ["a", "b", "c"]) await x.cache.set(key, text(key));
      await x.cache.get("a"); // now b is the least recently used

      await x.cache.set("d", text("d"));

      assert.equal(await x.cache.get("b"), undefined);
      for (const key of ["a", "c", "d"]) assert.ok(await x.cache.get(key), key);
    });

    test("(lru) past maxBytes entries are evicted until the total fits", async () => {
      await using x = await fixture({ maxBytes: 4_096, maxEntries: 1_000 });

      for (let i = 0; i < 20; i++) await x.cache.set(`k${i}`, new Uint8Array(1_000));

      const kept = (await listAll(x.cache, 100)).keys;
      assert.ok(kept.length >= 1 && kept.length <= 4, `${kept.length} entries kept`);
      assert.ok(kept.includes("k19"));
      assert.equal(await x.cache.get("k0"), undefined);
    });

    test("(lru) rate-limit counters count toward maxEntries", async () => {
      await using x = await fixture({ maxEntries: 10 });

      for (let i = 0; i < 50; i++) await x.cache.rateLimit(`client-${i}`, 5, 60_000);
      await x.cache.set("last", text("v"));

      assert.ok(await x.cache.get("last"));
      assert.equal((await x.cache.rateLimit("client-0", 1, 60_000)).allowed, true);
    });
  } else {
    test("(no lru) edgebox evicts nothing past maxEntries: the server's own policy applies", async () => {
      await using x = await fixture({ maxEntries: 10 });

      for (let i = 0; i < 25; i++) await x.cache.set(`k${i}`, text(`v${i}`));

      for (let i = 0; i < 25; i++) assert.ok(await x.cache.get(`k${i}`), `k${i} is still there`);
    });
  }

  // --- rate limits --------------------------------------------------------------------------

  test("rateLimit allows limit calls in a window, then refuses", async () => {
    await using x = await fixture();

    const results = [];
    for (let i = 0; i < 4; i++) results.push(await x.cache.rateLimit("client", 3, 60_000));

    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false]);
    assert.deepEqual(results.map((r) => r.remaining), [2, 1, 0, 0]);
    assert.ok(results.every((r) => r.limit === 3 && r.resetMs > 0 && r.resetMs <= 60_000));
  });

  test("rateLimit allows again once the window has passed", async () => {
    await using x = await fixture();
    for (let i = 0; i < 2; i++) await x.cache.rateLimit("client", 2, 100);
    assert.equal((await x.cache.rateLimit("client", 2, 100)).allowed, false);

    let after: { allowed: boolean; remaining: number } | undefined;
    await waitFor(async () => {
      after = await x.cache.rateLimit("client", 2, 100);
      return after.allowed;
    }, "the window to reset");

    assert.equal(after?.remaining, 1);
  });

  test("rateLimit is atomic: of 50 concurrent calls exactly limit are allowed", async () => {
    await using x = await fixture();

    const results = await Promise.all(
      Array.from({ length: 50 }, () => x.cache.rateLimit("burst", 20, 60_000)),
    );

    assert.equal(results.filter((r) => r.allowed).length, 20);
    assert.deepEqual(
      results.filter((r) => r.allowed).map((r) => r.remaining).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  test("rateLimit counters never touch a value of the same name", async () => {
    await using x = await fixture();
    await x.cache.set("client", text("mine"));

    await x.cache.rateLimit("client", 5, 60_000);

    assert.equal(decode((await x.cache.get("client"))?.value), "mine");
  });

  test("rateLimit refuses a limit below 1 or a window below 1ms", async () => {
    await using x = await fixture();

    assert.equal(await codeOf(x.cache.rateLimit("c", 0, 1_000)), "core.validation_failed");
    assert.equal(await codeOf(x.cache.rateLimit("c", 1, 0)), "core.validation_failed");
  });

  // --- lifecycle ----------------------------------------------------------------------------

  test("connect is idempotent and ping reports ready", async () => {
    await using x = await fixture();

    await x.cache.connect();

    assert.equal((await x.cache.ping()).status, "ready");
  });

  test("after close, operations answer unavailable and ping is down", async () => {
    const x = await fixture();
    await x.cache.purge();
    await x.cache.close();

    const error = await x.cache.get("k").then(() => undefined, (e) => e as EdgeboxError);

    assert.equal(error?.code, "cache.unavailable");
    assert.equal(error?.status, 503);
    assert.equal(error?.headers["Retry-After"], "1");
    assert.equal((await x.cache.ping()).status, "down");
  });

  test("a second close keeps the driver closed: ping is down, operations unavailable", async () => {
    const x = await fixture();
    await x.cache.purge();
    await x.cache.close();

    await x.cache.close();

    assert.equal((await x.cache.ping()).status, "down");
    assert.equal(await codeOf(x.cache.get("k")), "cache.unavailable");
    assert.equal(await codeOf(x.cache.set("k", text("v"))), "cache.unavailable");
  });
}
