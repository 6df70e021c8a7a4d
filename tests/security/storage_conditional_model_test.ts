/**
 * Conditional requests on stored objects checked against a model: random sequences of put,
 * put-if-match, put-if-none-match-*, delete, delete-if-match and get-if-none-match, sent through
 * the storage plugin's HTTP routes, must answer exactly what a plain map of key -> (ETag, bytes)
 * predicts, status by status and byte by byte. ETags are whatever the backend returns: the model
 * records them from each write, and the conditions a command sends name the current tag, a tag
 * seen earlier in the run (maybe the same one again: equal bytes may give equal tags), a tag
 * never issued, or `*`, each strong or weak. Runs on the filesystem backend always and on S3
 * (MinIO) when it is reachable, each run under a key prefix of its own, purged at the end.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { storagePlugin } from "../../plugins/storage/mod.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, type RunningApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const registry = new Map([["storage", storagePlugin]]);
const RELAXED = { healthInterval: "1h", timeouts: { start: "10s", ready: "10s", stop: "10s" } };

/** Bodies a command may write: few, so equal bytes (and so maybe equal tags) come up often. */
const BODIES = ["x", "y", "", "值🙂", "x".repeat(300)] as const;
/** Few keys, so commands keep meeting each other's writes. */
const KEYS = ["a", "dir/b", "ключ", "🔑 key"] as const;
const BOGUS = '"never-issued"';

/** What the model holds. */
interface Model {
  objects: Map<string, { etag: string; body: string }>;
  /** Every tag a write answered with in this run. */
  seen: string[];
}

/** The app under test and the prefix this run writes under. */
interface Real {
  app: RunningApp;
  prefix: string;
}

/** Which tag a condition names, decided when the command runs (tags are only known then). */
type TagChoice =
  | { kind: "star" }
  | { kind: "current"; weak: boolean }
  | { kind: "seen"; index: number; weak: boolean }
  | { kind: "bogus"; weak: boolean };

const tagChoice: fc.Arbitrary<TagChoice> = fc.oneof(
  fc.constant({ kind: "star" as const }),
  fc.record({ kind: fc.constant("current" as const), weak: fc.boolean() }),
  fc.record({ kind: fc.constant("seen" as const), index: fc.nat(20), weak: fc.boolean() }),
  fc.record({ kind: fc.constant("bogus" as const), weak: fc.boolean() }),
);

/** The header value a choice stands for in this model state. */
function resolve(choice: TagChoice, model: Model, key: string): string {
  if (choice.kind === "star") return "*";
  let tag = BOGUS;
  if (choice.kind === "current") tag = model.objects.get(key)?.etag ?? BOGUS;
  if (choice.kind === "seen" && model.seen.length > 0) {
    tag = model.seen[choice.index % model.seen.length]!;
  }
  return choice.weak ? `W/${tag}` : tag;
}

/** If-Match: strong comparison, false when there is no object. */
function strongHolds(header: string, current: string | undefined): boolean {
  if (current === undefined) return false;
  return header === "*" || (!header.startsWith("W/") && header === current);
}

/** If-None-Match matches: weak comparison. */
function weakMatches(header: string, current: string | undefined): boolean {
  if (current === undefined) return false;
  return header === "*" || header.replace(/^W\//, "") === current;
}

function show(choice: TagChoice): string {
  return choice.kind === "star"
    ? "*"
    : `${choice.weak ? "W/" : ""}${choice.kind}${choice.kind === "seen" ? choice.index : ""}`;
}

function path(real: Real, key: string): string {
  return `/v1/storage/objects/${real.prefix}${key.split("/").map(encodeURIComponent).join("/")}`;
}

async function send(
  real: Real,
  method: string,
  key: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Response> {
  return await real.app.request(path(real, key), {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

/** Asserts the status, and the problem's code and field when it is an error; consumes the body. */
async function expectStatus(
  response: Response,
  status: number,
  problem?: { code: string; field?: string },
): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  if (problem) {
    const parsed = JSON.parse(text);
    assert.equal(parsed.code, problem.code);
    if (problem.field) assert.equal(parsed.field, problem.field);
  }
  return text;
}

/** Checks a 201 and records what it wrote. */
async function expectStored(response: Response, model: Model, key: string, body: string) {
  await expectStatus(response, 201);
  const etag = response.headers.get("etag");
  assert.match(etag ?? "", /^"[\x21\x23-\x7e]*"$/);
  model.objects.set(key, { etag: etag!, body });
  model.seen.push(etag!);
}

const failed = (field: string) => ({ code: "storage.precondition_failed", field });

class Put implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly body: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await expectStored(
      await send(real, "PUT", this.key, {}, this.body),
      model,
      this.key,
      this.body,
    );
  }
  toString = () => `put(${this.key}, ${JSON.stringify(this.body)})`;
}

class PutIfMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly body: string, readonly choice: TagChoice) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const header = resolve(this.choice, model, this.key);
    const response = await send(real, "PUT", this.key, { "if-match": header }, this.body);
    if (strongHolds(header, model.objects.get(this.key)?.etag)) {
      await expectStored(response, model, this.key, this.body);
    } else {
      await expectStatus(response, 412, failed("header.if-match"));
    }
  }
  toString = () => `putIfMatch(${this.key}, ${JSON.stringify(this.body)}, ${show(this.choice)})`;
}

class PutIfNoneMatchStar implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly body: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const response = await send(real, "PUT", this.key, { "if-none-match": "*" }, this.body);
    if (model.objects.has(this.key)) {
      await expectStatus(response, 412, failed("header.if-none-match"));
    } else {
      await expectStored(response, model, this.key, this.body);
    }
  }
  toString = () => `putIfNoneMatch*(${this.key}, ${JSON.stringify(this.body)})`;
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await expectStatus(await send(real, "DELETE", this.key, {}), 204);
    model.objects.delete(this.key);
  }
  toString = () => `delete(${this.key})`;
}

class DeleteIfMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly choice: TagChoice) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const header = resolve(this.choice, model, this.key);
    const response = await send(real, "DELETE", this.key, { "if-match": header });
    if (strongHolds(header, model.objects.get(this.key)?.etag)) {
      await expectStatus(response, 204);
      model.objects.delete(this.key);
    } else {
      await expectStatus(response, 412, failed("header.if-match"));
    }
  }
  toString = () => `deleteIfMatch(${this.key}, ${show(this.choice)})`;
}

class GetIfNoneMatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly choice: TagChoice | undefined) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const header = this.choice && resolve(this.choice, model, this.key);
    const response = await send(real, "GET", this.key, header ? { "if-none-match": header } : {});
    const current = model.objects.get(this.key);
    if (current === undefined) {
      await expectStatus(response, 404, { code: "storage.not_found" });
      return;
    }
    assert.equal(response.headers.get("etag"), current.etag);
    if (header && weakMatches(header, current.etag)) {
      assert.equal(await expectStatus(response, 304), "");
      return;
    }
    assert.deepEqual(
      new Uint8Array(await response.arrayBuffer()),
      new TextEncoder().encode(current.body),
    );
    assert.equal(response.status, 200);
  }
  toString = () => `get(${this.key}${this.choice ? `, If-None-Match: ${show(this.choice)}` : ""})`;
}

const key = fc.constantFrom(...KEYS);
const body = fc.constantFrom(...BODIES);

const commands = fc.commands([
  fc.tuple(key, body).map(([k, b]) => new Put(k, b)),
  fc.tuple(key, body, tagChoice).map(([k, b, c]) => new PutIfMatch(k, b, c)),
  fc.tuple(key, body).map(([k, b]) => new PutIfNoneMatchStar(k, b)),
  key.map((k) => new Delete(k)),
  fc.tuple(key, tagChoice).map(([k, c]) => new DeleteIfMatch(k, c)),
  fc.tuple(key, fc.option(tagChoice, { nil: undefined, freq: 3 })).map(([k, c]) =>
    new GetIfNoneMatch(k, c)
  ),
], { maxCommands: 25 });

/** Runs the property against `app`, each run under `<base>/run<n>/`. */
async function checkModel(app: RunningApp, base: string, numRuns: number): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      const setup = () => ({
        model: { objects: new Map(), seen: [] } as Model,
        real: { app, prefix: `${base}/run${run++}/` },
      });
      await fc.asyncModelRun(setup, sequence);
    }),
    runs(numRuns),
  );
}

/** Deletes every object under `prefix` through the API. */
async function purge(app: RunningApp, prefix: string): Promise<void> {
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ prefix, limit: "1000" });
    if (cursor) query.set("cursor", cursor);
    const page = await (await app.request(`/v1/storage/objects?${query}`)).json();
    for (const object of page.objects as { key: string }[]) {
      const response = await app.request(
        `/v1/storage/objects/${object.key.split("/").map(encodeURIComponent).join("/")}`,
        { method: "DELETE" },
      );
      await response.body?.cancel();
    }
    cursor = page.cursor;
  } while (cursor);
}

Deno.test({
  name: "storage conditional requests (filesystem) answer what a map of key -> object predicts",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-model-" });
    try {
      await using app = await openApp(
        configYaml({ storage: { backend: "filesystem", root, fsync: false, ...RELAXED } }),
        registry,
      );
      await checkModel(app, "model", 60);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

const endpoint = Deno.env.get("S3_ENDPOINT") ?? "http://127.0.0.1:9000";

if (await realService("minio", endpoint, 9000)) {
  Deno.test({
    name: "storage conditional requests (s3) answer what a map of key -> object predicts",
    ...SANITIZED,
    async fn() {
      await using app = await openApp(
        configYaml({
          storage: {
            backend: "s3",
            endpoint,
            bucket: Deno.env.get("S3_BUCKET") ?? "edgebox-test",
            accessKeyId: Deno.env.get("S3_ACCESS_KEY") ?? "minioadmin",
            secretAccessKey: Deno.env.get("S3_SECRET_KEY") ?? "minioadmin",
            forcePathStyle: true,
            createBucket: true,
            ...RELAXED,
          },
        }),
        registry,
      );
      const base = `model-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await checkModel(app, base, 40);
      } finally {
        await purge(app, `${base}/`);
      }
    },
  });
}
