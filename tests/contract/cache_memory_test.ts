/** Runs the cache contract against the embedded in-memory store, plus its own sweeper. */
import assert from "node:assert/strict";
import { MemoryCache, type MemoryCacheOptions } from "../../plugins/cache/memory.ts";
import { SANITIZED, waitFor } from "../_helpers.ts";
import { CONTRACT_LIMITS, runCacheContract } from "./cache_contract.ts";

function options(overrides: Partial<MemoryCacheOptions> = {}): MemoryCacheOptions {
  return {
    keyPrefix: "",
    limits: CONTRACT_LIMITS,
    maxEntries: 100_000,
    maxBytes: 64 * 2 ** 20,
    sweepInterval: 1_000,
    ...overrides,
  };
}

runCacheContract({
  name: "memory",
  features: new MemoryCache(options()).features,
  async open(contract) {
    const cache = new MemoryCache(options({
      keyPrefix: contract.keyPrefix,
      limits: contract.limits,
      ...(contract.defaultTtl === undefined ? {} : { defaultTtl: contract.defaultTtl }),
      ...(contract.maxEntries === undefined ? {} : { maxEntries: contract.maxEntries }),
      ...(contract.maxBytes === undefined ? {} : { maxBytes: contract.maxBytes }),
    }));
    await cache.connect();
    return cache;
  },
});

Deno.test("memory cache: the sweeper drops expired entries nobody reads", SANITIZED, async () => {
  let now = 1_000;
  await using cache = new MemoryCache(options({ sweepInterval: 10, now: () => now }));
  await cache.connect();
  await cache.set("kept", new Uint8Array(10));
  await cache.set("gone", new Uint8Array(10), { ttlMs: 5 });

  now += 10;

  await waitFor(() => cache.stats.entries === 1, "a sweep");
  assert.ok(await cache.get("kept"));
});

Deno.test("memory cache: stats count entries and bytes", SANITIZED, async () => {
  await using cache = new MemoryCache(options());
  await cache.connect();

  await cache.set("k", new Uint8Array(100));
  const before = cache.stats;
  await cache.delete("k");

  assert.equal(before.entries, 1);
  assert.ok(before.bytes > 100);
  assert.deepEqual(cache.stats, { entries: 0, bytes: 0 });
});
