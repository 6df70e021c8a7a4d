/**
 * Conditional writes on cache values checked against a model: random sequences of put,
 * put-if-match, put-if-none-match-*, delete, delete-if-match and get-if-none-match, sent through
 * the cache plugin's HTTP routes, must answer exactly what a plain map of key -> (bytes, content
 * type) predicts, status by status and byte by byte. ETags are content-derived (SHA-1 of content
 * type, newline, bytes), so the model computes them independently here with WebCrypto; a stale
 * tag that names the same content again matches again, as it should. Runs on the memory backend
 * always and on Redis when it is reachable (a unique key prefix per run, purged at the end).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { RedisCache } from "../../plugins/cache/redis.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, type RunningApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const registry = new Map([["cache", cachePlugin]]);
const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Content a command may write: a few bodies under a few content types, so tags collide often. */
const CONTENTS = [
  { body: "x", type: "text/plain" },
  { body: "x", type: "application/json" },
  { body: "y", type: "text/plain" },
  { body: "", type: "application/octet-stream" },
  { body: "值🙂", type: "text/plain; charset=utf-8" },
] as const;
type Content = typeof CONTENTS[number];

/** Few keys, so commands keep meeting each other's writes. */
const KEYS = ["a", "b", "ключ", "🔑 key"] as const;

/** The content-derived tag of each possible content, computed independently of the plugin. */
const TAGS = new Map<Content, string>();
for (const content of CONTENTS) {
  const input = new TextEncoder().encode(`${content.type}\n${content.body}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input));
  TAGS.set(content, `"${digest.toHex()}"`);
}
const tagOf = (content: Content) => TAGS.get(content)!;

/** What the model holds: the content under each key. */
type Model = Map<string, Content>;

/** The app under test and the namespace this run writes in (runs never see each other). */
interface Real {
  app: RunningApp;
  namespace: string;
}

/** An If-Match / If-None-Match a command sends: a tag of some content (maybe weak), or `*`. */
type Condition = { star: true } | { star: false; of: Content; weak: boolean };

const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.constant({ star: true as const }),
  fc.record({
    star: fc.constant(false as const),
    of: fc.constantFrom(...CONTENTS),
    weak: fc.boolean(),
  }),
);

function header(c: Condition): string {
  if (c.star) return "*";
  return c.weak ? `W/${tagOf(c.of)}` : tagOf(c.of);
}

/** Strong comparison (If-Match): a weak tag never matches. */
function strongMatch(c: Condition, current: Content | undefined): boolean {
  if (current === undefined) return false;
  return c.star || (!c.weak && c.of === current);
}

/** Weak comparison (If-None-Match). */
function weakMatch(c: Condition, current: Content): boolean {
  return c.star || c.of === current;
}

function path(real: Real, key: string): string {
  return `/v1/cache/keys/${encodeURIComponent(real.namespace + key)}`;
}

async function send(
  real: Real,
  method: string,
  key: string,
  headers: Record<string, string>,
  content?: Content,
): Promise<Response> {
  return await real.app.request(path(real, key), {
    method,
    headers: content ? { ...headers, "content-type": content.type } : headers,
    ...(content ? { body: content.body } : {}),
  });
}

/** Asserts the status, and the problem code when it is an error; consumes the body. */
async function expectStatus(response: Response, status: number, code?: string): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  if (code !== undefined) assert.equal(JSON.parse(text).code, code);
}

/** Checks the write that just answered stored `content` and said so with its tag. */
function expectStored(response: Response, content: Content): void {
  assert.equal(response.headers.get("etag"), tagOf(content));
}

class Put implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly content: Content) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(real, "PUT", this.key, {}, this.content);
    expectStored(response, this.content);
    await expectStatus(response, model.has(this.key) ? 204 : 201);
    model.set(this.key, this.content);
  }
  toString = () => `put(${this.key}, ${JSON.stringify(this.content)})`;
}

class PutIfMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly content: Content, readonly condition: Condition) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(
      real,
      "PUT",
      this.key,
      { "if-match": header(this.condition) },
      this.content,
    );
    if (strongMatch(this.condition, model.get(this.key))) {
      expectStored(response, this.content);
      await expectStatus(response, 204);
      model.set(this.key, this.content);
    } else {
      await expectStatus(response, 412, "cache.precondition_failed");
    }
  }
  toString = () =>
    `putIfMatch(${this.key}, ${JSON.stringify(this.content)}, ${header(this.condition)})`;
}

class PutIfNoneMatchStar implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly content: Content) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(real, "PUT", this.key, { "if-none-match": "*" }, this.content);
    if (model.has(this.key)) {
      await expectStatus(response, 412, "cache.key_exists");
    } else {
      expectStored(response, this.content);
      await expectStatus(response, 201);
      model.set(this.key, this.content);
    }
  }
  toString = () => `putIfNoneMatch*(${this.key}, ${JSON.stringify(this.content)})`;
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(real, "DELETE", this.key, {});
    if (model.delete(this.key)) await expectStatus(response, 204);
    else await expectStatus(response, 404, "cache.not_found");
  }
  toString = () => `delete(${this.key})`;
}

class DeleteIfMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly condition: Condition) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(real, "DELETE", this.key, { "if-match": header(this.condition) });
    const current = model.get(this.key);
    if (current === undefined) {
      await expectStatus(response, 404, "cache.not_found");
    } else if (strongMatch(this.condition, current)) {
      await expectStatus(response, 204);
      model.delete(this.key);
    } else {
      await expectStatus(response, 412, "cache.precondition_failed");
    }
  }
  toString = () => `deleteIfMatch(${this.key}, ${header(this.condition)})`;
}

class GetIfNoneMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly condition: Condition | undefined) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const headers: Record<string, string> = this.condition
      ? { "if-none-match": header(this.condition) }
      : {};
    const response = await send(real, "GET", this.key, headers);
    const current = model.get(this.key);
    if (current === undefined) {
      await expectStatus(response, 404, "cache.not_found");
      return;
    }
    assert.equal(response.headers.get("etag"), tagOf(current));
    if (this.condition && weakMatch(this.condition, current)) {
      await expectStatus(response, 304);
      return;
    }
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), current.type);
    assert.deepEqual(
      new Uint8Array(await response.arrayBuffer()),
      new TextEncoder().encode(current.body),
    );
  }
  toString = () =>
    `get(${this.key}${this.condition ? `, If-None-Match: ${header(this.condition)}` : ""})`;
}

const key = fc.constantFrom(...KEYS);
const content = fc.constantFrom(...CONTENTS);

const commands = fc.commands([
  fc.tuple(key, content).map(([k, c]) => new Put(k, c)),
  fc.tuple(key, content, condition).map(([k, c, m]) => new PutIfMatch(k, c, m)),
  fc.tuple(key, content).map(([k, c]) => new PutIfNoneMatchStar(k, c)),
  key.map((k) => new Delete(k)),
  fc.tuple(key, condition).map(([k, m]) => new DeleteIfMatch(k, m)),
  fc.tuple(key, fc.option(condition, { nil: undefined, freq: 3 })).map(([k, m]) =>
    new GetIfNoneMatch(k, m)
  ),
], { maxCommands: 30 });

/** Runs the property against `app`: each run writes under a namespace of its own. */
async function checkModel(app: RunningApp, numRuns: number): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      const setup = () => ({ model: new Map() as Model, real: { app, namespace: `run${run++}:` } });
      await fc.asyncModelRun(setup, sequence);
    }),
    runs(numRuns),
  );
}

Deno.test(
  "cache conditional writes (memory) answer what a map of key -> content predicts",
  SANITIZED,
  async () => {
    await using app = await openApp(configYaml({ cache: { backend: "memory" } }), registry);
    await checkModel(app, 150);
  },
);

if (await realService("redis", redisUrl, 6379)) {
  Deno.test(
    "cache conditional writes (redis) answer what a map of key -> content predicts",
    SANITIZED,
    async () => {
      const keyPrefix = `edgebox-test:${crypto.randomUUID()}:`;
      try {
        await using app = await openApp(
          configYaml({ cache: { backend: "redis", url: redisUrl, keyPrefix } }),
          registry,
        );
        await checkModel(app, 60);
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
