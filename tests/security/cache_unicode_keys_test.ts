/**
 * Keys from the whole Unicode range (astral planes, CJK, right-to-left scripts, combining marks,
 * noncharacters, URL-special ASCII) through the cache's HTTP routes: every key the key rules
 * accept is stored under exactly that key, listed exactly once when pages of 1 to 4 keys are
 * followed by cursor (with a Unicode prefix, too), and read back byte-exact with its content
 * type; every key the rules refuse is a 4xx and stored as nothing else. Runs on the memory
 * backend always and on Redis when it is reachable (a unique key prefix, purged at the end).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { keyProblem } from "../../plugins/cache/keys.ts";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { RedisCache } from "../../plugins/cache/redis.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, type RunningApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const registry = new Map([["cache", cachePlugin]]);
const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
/** Small, so generated keys cross it now and then. */
const MAX_KEY_BYTES = 64;

/** Code points that break naive handling: separators, escapes, bidi, joiners, specials. */
const TRICKY = [
  0x2f,
  0x5c,
  0x2e,
  0x25,
  0x3f,
  0x23,
  0x2b,
  0x26,
  0x3d,
  0x2a,
  0x5b,
  0x5d,
  0x20,
  0x22,
  0x27,
  0x0301,
  0x0308,
  0x200d,
  0x200e,
  0x200f,
  0x202e,
  0x2028,
  0x2029,
  0xfe0f,
  0xfeff,
  0xfffd,
  0xfffe,
  0xffff,
  0x1f1fa,
  0x1f1f8,
  0x1f600,
  0x1f469,
  0x10ffff,
  0xe000,
  0x0130,
  0x03a3,
];

/**
 * One code point from anywhere in 0..10FFFF, controls and lone surrogates included (the rules
 * must refuse those), biased towards the scripts and characters that break encodings.
 */
const codePoint = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 0x10ffff }), weight: 12 },
  { arbitrary: fc.constantFrom(...TRICKY), weight: 12 },
  { arbitrary: fc.integer({ min: 0x21, max: 0x7e }), weight: 9 },
  { arbitrary: fc.integer({ min: 0x4e00, max: 0x9fff }), weight: 6 }, // CJK
  { arbitrary: fc.integer({ min: 0x0590, max: 0x06ff }), weight: 6 }, // Hebrew, Arabic (RTL)
  { arbitrary: fc.integer({ min: 0x0300, max: 0x036f }), weight: 6 }, // combining marks
  { arbitrary: fc.integer({ min: 0x1f300, max: 0x1faff }), weight: 6 }, // emoji (astral)
  { arbitrary: fc.integer({ min: 0x00, max: 0x9f }), weight: 1 }, // ASCII and C1 controls
  { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }), weight: 1 }, // lone surrogates
).map((point) => String.fromCodePoint(point));

const key = fc.oneof(
  {
    arbitrary: fc.array(codePoint, { minLength: 1, maxLength: 16, size: "max" })
      .map((points) => points.join("")),
    weight: 30,
  },
  // Dot segments, which no request path can carry (the key rules refuse them).
  { arbitrary: fc.constantFrom(".", "..", "a/../b", ".\\x", "x/.", "é/.."), weight: 1 },
);

const entry = fc.record({
  key,
  value: fc.uint8Array({ maxLength: 48 }),
  type: fc.constantFrom("application/octet-stream", "text/plain; charset=utf-8", "x/y"),
});

const sample = fc.record({
  entries: fc.uniqueArray(entry, { minLength: 1, maxLength: 12, selector: (e) => e.key }),
  limit: fc.integer({ min: 1, max: 4 }),
  /** Picks the key whose first code points make the narrower prefix listing. */
  pick: fc.nat(),
  cut: fc.nat(),
});

/**
 * The path of `key`, percent-encoded as UTF-8; a lone surrogate (which `encodeURIComponent`
 * refuses) as the three bytes a careless client would send for it (WTF-8), which are not UTF-8.
 */
function keyPath(key: string): string {
  let encoded = "";
  for (const char of key) {
    const unit = char.charCodeAt(0);
    if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      const bytes = [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
      encoded += bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    } else encoded += encodeURIComponent(char);
  }
  return `/v1/cache/keys/${encoded}`;
}

/** Every key listed under `prefix`, following cursors with pages of `limit`. */
async function listAll(app: RunningApp, prefix: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0;; pages++) {
    assert.ok(pages < 1_000, "the listing never ends");
    const query = new URLSearchParams({ prefix, limit: String(limit) });
    if (cursor !== null) query.set("cursor", cursor);
    const response = await app.request(`/v1/cache/keys?${query}`);
    const page = await response.json();
    assert.equal(response.status, 200, JSON.stringify(page));
    assert.ok(page.keys.length <= limit, `a page of ${page.keys.length} keys over ${limit}`);
    keys.push(...page.keys);
    cursor = page.cursor;
    if (cursor === null) return keys;
  }
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Runs the property against `app`: each run writes under a Unicode namespace of its own. */
async function checkKeys(app: RunningApp, numRuns: number): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(sample, async ({ entries, limit, pick, cut }) => {
      // Unicode, and with a glob character, so the backend's prefix matching is tested too.
      const namespace = `ключ*${run++}🔑/`;
      const accepted = entries.filter((e) =>
        keyProblem(namespace + e.key, MAX_KEY_BYTES) === undefined
      );
      try {
        for (const e of entries) {
          const response = await app.request(keyPath(namespace + e.key), {
            method: "PUT",
            headers: { "content-type": e.type },
            body: e.value,
          });
          const body = await response.text();
          if (accepted.includes(e)) {
            assert.equal(response.status, 201, `${JSON.stringify(e.key)}: ${body}`);
          } else {
            assert.ok(
              response.status >= 400 && response.status < 500,
              `${JSON.stringify(e.key)} broke the key rules but answered ${response.status}`,
            );
          }
        }

        const expected = accepted.map((e) => namespace + e.key).sort(byCodeUnits);
        assert.deepEqual((await listAll(app, namespace, limit)).sort(byCodeUnits), expected);

        if (accepted.length > 0) {
          const points = [...namespace + accepted[pick % accepted.length]!.key];
          const narrower = points.slice(0, points.length - (cut % points.length)).join("");
          assert.deepEqual(
            (await listAll(app, narrower, limit)).sort(byCodeUnits),
            expected.filter((k) => k.startsWith(narrower)),
          );
        }

        for (const e of accepted) {
          const response = await app.request(keyPath(namespace + e.key));
          const bytes = new Uint8Array(await response.arrayBuffer());
          assert.equal(response.status, 200, JSON.stringify(e.key));
          assert.equal(response.headers.get("content-type"), e.type);
          assert.deepEqual(bytes, e.value, JSON.stringify(e.key));
        }
      } finally {
        for (const e of accepted) {
          const response = await app.request(keyPath(namespace + e.key), { method: "DELETE" });
          await response.body?.cancel();
        }
      }
      assert.deepEqual(await listAll(app, namespace, 10), []);
    }),
    runs(numRuns),
  );
}

Deno.test(
  "cache keys from all of Unicode (memory) are listed exactly once and read back exactly",
  SANITIZED,
  async () => {
    await using app = await openApp(
      configYaml({ cache: { backend: "memory", maxKeyBytes: MAX_KEY_BYTES } }),
      registry,
    );
    await checkKeys(app, 120);
  },
);

if (await realService("redis", redisUrl, 6379)) {
  Deno.test(
    "cache keys from all of Unicode (redis) are listed exactly once and read back exactly",
    SANITIZED,
    async () => {
      const keyPrefix = `edgebox-test:${crypto.randomUUID()}:`;
      try {
        await using app = await openApp(
          configYaml({
            cache: { backend: "redis", url: redisUrl, keyPrefix, maxKeyBytes: MAX_KEY_BYTES },
          }),
          registry,
        );
        await checkKeys(app, 60);
      } finally {
        await using cleaner = new RedisCache({
          url: redisUrl,
          keyPrefix,
          limits: { maxKeyBytes: 512, maxFieldBytes: 256, maxValueSize: 1024, maxHashFields: 16 },
          commandTimeout: 2_000,
          connectTimeout: 2_000,
          retryMaxDelay: 100,
        });
        await cleaner.connect();
        await cleaner.purge();
      }
    },
  );
}
