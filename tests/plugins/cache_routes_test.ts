/**
 * Specification of the cache plugin's HTTP API, through the whole app (core middleware, body
 * limit, availability gate) on the embedded backend: values as bytes with their content type and
 * TTL, the key rules, size limits, conditional creates, counters, hashes, batches, listing, and
 * every error as problem+json with a `cache.*` code naming the field.
 */
import assert from "node:assert/strict";
import { type CacheExports, cachePlugin } from "../../plugins/cache/mod.ts";
import {
  configYaml,
  FAST_SETTINGS,
  openApp,
  problemOf,
  type RunningApp,
  SANITIZED,
} from "../_helpers.ts";
import { observabilityRegistry, observabilityYaml } from "./_observability_helpers.ts";

const registry = new Map([["cache", cachePlugin]]);

/** An app with one memory cache at /v1/cache; `settings` add to (or override) its block. */
function open(settings: Record<string, unknown> = {}): Promise<RunningApp> {
  return openApp(
    configYaml({
      cache: {
        backend: "memory",
        maxValueSize: "1KiB",
        maxBatchSize: 5,
        maxPageSize: 50,
        ...settings,
      },
    }),
    registry,
  );
}

const put = (app: RunningApp, key: string, body: BodyInit, headers: HeadersInit = {}, query = "") =>
  app.request(`/v1/cache/keys/${key}${query}`, { method: "PUT", body, headers });

const json = (body: unknown) => ({
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" },
});

/** Asserts a problem+json answer with this status and code (and field, when given). */
async function expectProblem(
  response: Response,
  status: number,
  code: string,
  field?: string,
): Promise<Record<string, unknown>> {
  const problem = await problemOf(response);
  assert.equal(response.status, status, JSON.stringify(problem));
  assert.equal(problem.code, code);
  if (field !== undefined) assert.equal(problem.field, field);
  return problem;
}

// --- values --------------------------------------------------------------------------------

Deno.test(
  "PUT stores the body; GET answers its bytes with its content type",
  SANITIZED,
  async () => {
    await using app = await open();
    const bytes = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) % 256);

    const created = await put(app, "blob", bytes, { "content-type": "image/png" });
    const read = await app.request("/v1/cache/keys/blob");

    assert.equal(created.status, 201);
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("content-type"), "image/png");
    assert.deepEqual(new Uint8Array(await read.arrayBuffer()), bytes);
  },
);

Deno.test("PUT on an existing key answers 204", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "one");

  const replaced = await put(app, "k", "two");

  assert.equal(replaced.status, 204);
  assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "two");
});

Deno.test("GET of a missing key is 404 cache.not_found", SANITIZED, async () => {
  await using app = await open();

  await expectProblem(
    await app.request("/v1/cache/keys/nothing"),
    404,
    "cache.not_found",
    "path.key",
  );
});

Deno.test("a value stored with a ttl answers X-Cache-TTL in seconds", SANITIZED, async () => {
  await using app = await open();
  await put(app, "short", "v", {}, "?ttl=90s");
  await put(app, "forever", "v");

  const short = await app.request("/v1/cache/keys/short");
  const forever = await app.request("/v1/cache/keys/forever");
  await short.body?.cancel();
  await forever.body?.cancel();

  assert.ok(["89", "90"].includes(short.headers.get("x-cache-ttl")!));
  assert.equal(forever.headers.get("x-cache-ttl"), null);
});

Deno.test("HEAD answers size, type and TTL without a body", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "hello", { "content-type": "text/plain" }, "?ttl=1h");

  const head = await app.request("/v1/cache/keys/k", { method: "HEAD" });
  const missing = await app.request("/v1/cache/keys/absent", { method: "HEAD" });

  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "5");
  assert.equal(head.headers.get("content-type"), "text/plain");
  assert.ok(Number(head.headers.get("x-cache-ttl")) > 3_500);
  assert.equal(await head.text(), "");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("DELETE answers 204, then 404", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");

  const deleted = await app.request("/v1/cache/keys/k", { method: "DELETE" });
  const again = await app.request("/v1/cache/keys/k", { method: "DELETE" });

  assert.equal(deleted.status, 204);
  await expectProblem(again, 404, "cache.not_found");
});

Deno.test("If-None-Match: * creates the key once, then answers 412", SANITIZED, async () => {
  await using app = await open();

  const first = await put(app, "lock", "a", { "if-none-match": "*" });
  const second = await put(app, "lock", "b", { "if-none-match": "*" });

  assert.equal(first.status, 201);
  await expectProblem(second, 412, "cache.key_exists", "header.if-none-match");
  assert.equal(await (await app.request("/v1/cache/keys/lock")).text(), "a");
});

Deno.test("If-None-Match with an entity tag is 400 naming the header", SANITIZED, async () => {
  await using app = await open();

  const response = await put(app, "k", "v", { "if-none-match": '"abc"' });

  await expectProblem(response, 400, "core.validation_failed", "header.if-none-match");
});

// --- ETags and conditional requests (RFC 9110 section 13) ----------------------------------

const TAG = /^"[0-9a-f]{40}"$/;

/** The ETag GET answers for `key` (and the body, consumed). */
async function etagOf(app: RunningApp, key: string): Promise<string> {
  const response = await app.request(`/v1/cache/keys/${key}`);
  await response.body?.cancel();
  assert.equal(response.status, 200);
  return response.headers.get("etag")!;
}

const request = (app: RunningApp, method: string, key: string, headers: HeadersInit) =>
  app.request(`/v1/cache/keys/${key}`, { method, headers });

Deno.test("PUT, GET and HEAD answer the same strong ETag", SANITIZED, async () => {
  await using app = await open();

  const stored = await put(app, "k", "hello", { "content-type": "text/plain" });
  const read = await etagOf(app, "k");
  const head = await request(app, "HEAD", "k", {});

  assert.equal(stored.status, 201);
  assert.match(read, TAG);
  assert.equal(stored.headers.get("etag"), read);
  assert.equal(head.headers.get("etag"), read);
});

Deno.test("the ETag changes with the bytes and the content type", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "a", { "content-type": "text/plain" });
  const first = await etagOf(app, "k");

  await put(app, "k", "b", { "content-type": "text/plain" });
  const otherBytes = await etagOf(app, "k");
  await put(app, "k", "a", { "content-type": "text/html" });
  const otherType = await etagOf(app, "k");

  assert.notEqual(otherBytes, first);
  assert.notEqual(otherType, first);
});

Deno.test(
  "GET with If-None-Match holding the current ETag answers 304 without a body",
  SANITIZED,
  async () => {
    await using app = await open();
    await put(app, "k", "v");
    const etag = await etagOf(app, "k");

    for (const condition of [etag, `"other", ${etag}`, `W/${etag}`, "*"]) {
      const response = await request(app, "GET", "k", { "if-none-match": condition });
      assert.equal(response.status, 304, condition);
      assert.equal(response.headers.get("etag"), etag);
      assert.equal(await response.text(), "");
    }
  },
);

Deno.test("GET with If-None-Match holding another ETag answers the value", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");

  const response = await request(app, "GET", "k", { "if-none-match": '"stale"' });

  assert.equal(response.status, 200);
  assert.equal(await response.text(), "v");
});

Deno.test("HEAD honours If-None-Match too", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");
  const etag = await etagOf(app, "k");

  const response = await request(app, "HEAD", "k", { "if-none-match": etag });

  assert.equal(response.status, 304);
  assert.equal(response.headers.get("etag"), etag);
});

Deno.test("GET with an If-Match the value does not have is 412", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");
  const etag = await etagOf(app, "k");

  const matching = await request(app, "GET", "k", { "if-match": etag });
  const stale = await request(app, "GET", "k", { "if-match": '"stale"' });

  assert.equal(await matching.text(), "v");
  await expectProblem(stale, 412, "cache.precondition_failed", "header.if-match");
});

Deno.test("a missing key is 404 whatever the conditions", SANITIZED, async () => {
  await using app = await open();

  await expectProblem(await request(app, "GET", "k", { "if-match": "*" }), 404, "cache.not_found");
  await expectProblem(
    await request(app, "GET", "k", { "if-none-match": '"x"' }),
    404,
    "cache.not_found",
  );
  await expectProblem(
    await request(app, "DELETE", "k", { "if-match": '"x"' }),
    404,
    "cache.not_found",
  );
});

Deno.test("PUT with If-Match holding the current ETag replaces the value", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v1");
  const etag = await etagOf(app, "k");

  const replaced = await put(app, "k", "v2", { "if-match": `"other", ${etag}` });

  assert.equal(replaced.status, 204);
  assert.equal(replaced.headers.get("etag"), await etagOf(app, "k"));
  assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "v2");
});

Deno.test(
  "PUT with a stale If-Match is 412 cache.precondition_failed and keeps the value",
  SANITIZED,
  async () => {
    await using app = await open();
    await put(app, "k", "v1");
    const stale = await etagOf(app, "k");
    await put(app, "k", "v2");

    const response = await put(app, "k", "v3", { "if-match": stale });

    await expectProblem(response, 412, "cache.precondition_failed", "header.if-match");
    assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "v2");
  },
);

Deno.test("a weak ETag never satisfies If-Match", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v1");
  const etag = await etagOf(app, "k");

  const response = await put(app, "k", "v2", { "if-match": `W/${etag}` });

  await expectProblem(response, 412, "cache.precondition_failed", "header.if-match");
});

Deno.test("PUT with If-Match: * replaces only an existing key", SANITIZED, async () => {
  await using app = await open();

  const absent = await put(app, "k", "v1", { "if-match": "*" });
  await put(app, "k", "v1");
  const present = await put(app, "k", "v2", { "if-match": "*" });

  await expectProblem(absent, 412, "cache.precondition_failed", "header.if-match");
  assert.equal(present.status, 204);
});

Deno.test("DELETE with If-Match deletes only a matching value", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v1");
  const stale = await etagOf(app, "k");
  await put(app, "k", "v2");
  const current = await etagOf(app, "k");

  const refused = await request(app, "DELETE", "k", { "if-match": stale });
  const deleted = await request(app, "DELETE", "k", { "if-match": current });

  await expectProblem(refused, 412, "cache.precondition_failed", "header.if-match");
  assert.equal(deleted.status, 204);
  await expectProblem(await app.request("/v1/cache/keys/k"), 404, "cache.not_found");
});

Deno.test("a malformed If-Match or If-None-Match is 400 naming the header", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");
  const malformed = ["abc", '"unterminated', '*, "a"', ",", '"a" "b"', '"a",b', 'w/"a"'];

  for (const value of malformed) {
    await expectProblem(
      await put(app, "k", "v", { "if-match": value }),
      400,
      "core.validation_failed",
      "header.if-match",
    );
    await expectProblem(
      await request(app, "GET", "k", { "if-none-match": value }),
      400,
      "core.validation_failed",
      "header.if-none-match",
    );
  }
});

Deno.test("an If-Match listing over 64 ETags is 400", SANITIZED, async () => {
  await using app = await open();
  const tags = Array.from({ length: 65 }, (_, i) => `"${i}"`).join(", ");

  await expectProblem(
    await put(app, "k", "v", { "if-match": tags }),
    400,
    "core.validation_failed",
    "header.if-match",
  );
});

Deno.test("If-None-Match on DELETE is 400: it cannot be honoured there", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");

  const response = await request(app, "DELETE", "k", { "if-none-match": "*" });

  await expectProblem(response, 400, "core.validation_failed", "header.if-none-match");
  assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "v");
});

Deno.test(
  "date conditions and If-Range are 400: cache values have no dates",
  SANITIZED,
  async () => {
    await using app = await open();
    await put(app, "k", "v");
    const date = new Date().toUTCString();

    const cases: [string, string][] = [
      ["if-unmodified-since", "PUT"],
      ["if-unmodified-since", "DELETE"],
      ["if-modified-since", "GET"],
      ["if-range", "GET"],
    ];
    for (const [name, method] of cases) {
      const response = await app.request("/v1/cache/keys/k", {
        method,
        headers: { [name]: date },
        ...(method === "PUT" ? { body: "w" } : {}),
      });
      await expectProblem(response, 400, "core.validation_failed", `header.${name}`);
    }
    assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "v");
  },
);

Deno.test("a date condition is refused even beside an If-Match", SANITIZED, async () => {
  await using app = await open();
  await put(app, "k", "v");
  const etag = await etagOf(app, "k");

  const response = await put(app, "k", "w", {
    "if-match": etag,
    "if-unmodified-since": new Date().toUTCString(),
  });

  await expectProblem(response, 400, "core.validation_failed", "header.if-unmodified-since");
  assert.equal(await (await app.request("/v1/cache/keys/k")).text(), "v");
});

Deno.test(
  "a conditional header on a route that cannot honour it is 400 naming it",
  SANITIZED,
  async () => {
    await using app = await open();
    await put(app, "keys", "1");
    const routes: [string, string, RequestInit?][] = [
      ["POST", "/v1/cache/keys/keys/incr"],
      ["GET", "/v1/cache/keys"],
      ["GET", "/v1/cache/hashes/h"],
      ["PATCH", "/v1/cache/hashes/h", json({ f: "1" })],
      ["DELETE", "/v1/cache/hashes/h"],
      ["DELETE", "/v1/cache/hashes/h/fields/f"],
      ["POST", "/v1/cache/batch", json({ get: ["keys"] })],
    ];

    for (const [method, path, init] of routes) {
      for (const name of ["if-match", "if-none-match"]) {
        const response = await app.request(path, {
          ...init,
          method,
          headers: { ...(init?.headers as Record<string, string> | undefined), [name]: "*" },
        });
        await expectProblem(response, 400, "core.validation_failed", `header.${name}`);
      }
    }
    assert.equal(await (await app.request("/v1/cache/keys/keys")).text(), "1");
  },
);

// --- key rules and limits ------------------------------------------------------------------

Deno.test(
  "a key of 512 bytes of UTF-8 is accepted; 513 is 400 cache.key_invalid",
  SANITIZED,
  async () => {
    await using app = await open();
    const fits = encodeURIComponent("é".repeat(256)); // 512 bytes
    const over = encodeURIComponent(`${"é".repeat(256)}x`); // 513 bytes

    const ok = await put(app, fits, "v");
    const tooLong = await put(app, over, "v");

    assert.equal(ok.status, 201);
    const problem = await expectProblem(tooLong, 400, "cache.key_invalid", "path.key");
    assert.match(String(problem.detail), /512 bytes/);
  },
);

Deno.test("a key with a control character is 400 cache.key_invalid", SANITIZED, async () => {
  await using app = await open();

  for (const key of ["a%01b", "tab%09", "del%7F", "nul%00"]) {
    await expectProblem(
      await app.request(`/v1/cache/keys/${key}`),
      400,
      "cache.key_invalid",
      "path.key",
    );
  }
});

Deno.test(
  "a key whose percent-encoding is not UTF-8 is refused with 400 at the front, never stored",
  SANITIZED,
  async () => {
    await using app = await open();

    for (const key of ["%FF", "a%C3", "%E2%82"]) {
      await expectProblem(await put(app, key, "v"), 400, "core.path_invalid", "path");
    }
    const listed = await (await app.request("/v1/cache/keys")).json();
    assert.deepEqual(listed.keys, []);
  },
);

Deno.test("the empty key is 400 cache.key_invalid", SANITIZED, async () => {
  await using app = await open();

  await expectProblem(await put(app, "", "v"), 400, "cache.key_invalid", "path.key");
});

Deno.test("keys may hold slashes, spaces and unicode when percent-encoded", SANITIZED, async () => {
  await using app = await open();
  const key = "users/42 café";

  await put(app, encodeURIComponent(key), "v");
  const listed = await (await app.request("/v1/cache/keys")).json();

  assert.deepEqual(listed.keys, [key]);
  assert.equal(await (await app.request(`/v1/cache/keys/${encodeURIComponent(key)}`)).text(), "v");
});

Deno.test("a body over maxValueSize is 413 cache.value_too_large", SANITIZED, async () => {
  await using app = await open();

  const response = await put(app, "big", new Uint8Array(1_025));

  await expectProblem(response, 413, "cache.value_too_large", "body");
  await expectProblem(await app.request("/v1/cache/keys/big"), 404, "cache.not_found");
});

Deno.test("a body over the plugin's body limit is 413 core.body_too_large", SANITIZED, async () => {
  await using app = await open({ bodyLimit: "2KiB" });

  const response = await put(app, "big", new Uint8Array(4_096));

  await expectProblem(response, 413, "core.body_too_large");
});

Deno.test("an invalid ttl is 400 naming query.ttl", SANITIZED, async () => {
  await using app = await open();

  for (const ttl of ["abc", "0s", "60", "-5s"]) {
    await expectProblem(
      await put(app, "k", "v", {}, `?ttl=${ttl}`),
      400,
      "core.validation_failed",
      "query.ttl",
    );
  }
});

Deno.test("a content type that is not printable ASCII is 400", SANITIZED, async () => {
  await using app = await open();

  const response = await put(app, "k", "v", { "content-type": "x".repeat(300) });

  await expectProblem(response, 400, "core.validation_failed", "header.content-type");
});

// --- counters ------------------------------------------------------------------------------

Deno.test("POST incr answers the counter's new value", SANITIZED, async () => {
  await using app = await open();

  const first = await app.request("/v1/cache/keys/hits/incr?by=5&ttl=1m", { method: "POST" });
  const second = await app.request("/v1/cache/keys/hits/incr", { method: "POST" });

  assert.deepEqual(await first.json(), { key: "hits", value: 5 });
  assert.deepEqual(await second.json(), { key: "hits", value: 6 });
  const read = await app.request("/v1/cache/keys/hits");
  assert.equal(await read.text(), "6");
  assert.ok(Number(read.headers.get("x-cache-ttl")) > 0);
});

Deno.test(
  "incr on a value that is not an integer is 409 cache.not_integer",
  SANITIZED,
  async () => {
    await using app = await open();
    await put(app, "name", "ada");

    const response = await app.request("/v1/cache/keys/name/incr", { method: "POST" });

    await expectProblem(response, 409, "cache.not_integer");
  },
);

Deno.test("incr with a non-integer by is 400 naming query.by", SANITIZED, async () => {
  await using app = await open();

  for (const by of ["1.5", "abc", "99999999999999999"]) {
    const response = await app.request(`/v1/cache/keys/n/incr?by=${by}`, { method: "POST" });
    await expectProblem(response, 400, "core.validation_failed", "query.by");
  }
});

// --- hashes --------------------------------------------------------------------------------

Deno.test("PATCH sets hash fields, GET reads them, DELETE removes one", SANITIZED, async () => {
  await using app = await open();

  const created = await app.request("/v1/cache/hashes/session?ttl=10m", {
    method: "PATCH",
    ...json({ user: "ada", theme: "dark" }),
  });
  await app.request("/v1/cache/hashes/session", {
    method: "PATCH",
    ...json({ theme: null, lang: "en" }),
  });
  const removed = await app.request("/v1/cache/hashes/session/fields/user", { method: "DELETE" });
  const read = await app.request("/v1/cache/hashes/session");

  assert.deepEqual(await created.json(), { key: "session", size: 2, created: true });
  assert.equal(removed.status, 204);
  const body = await read.json();
  assert.deepEqual(body.fields, { lang: "en" });
  assert.ok(body.ttl > 500 && body.ttl <= 600);
  assert.equal(read.headers.get("x-cache-ttl"), String(body.ttl));
});

Deno.test("removing a field a hash lacks is 404 cache.field_not_found", SANITIZED, async () => {
  await using app = await open();
  await app.request("/v1/cache/hashes/h", { method: "PATCH", ...json({ a: "1" }) });

  const response = await app.request("/v1/cache/hashes/h/fields/b", { method: "DELETE" });

  await expectProblem(response, 404, "cache.field_not_found", "path.field");
});

Deno.test("GET of a missing hash is 404; DELETE /hashes/{key} removes one", SANITIZED, async () => {
  await using app = await open();
  await app.request("/v1/cache/hashes/h", { method: "PATCH", ...json({ a: "1" }) });

  const deleted = await app.request("/v1/cache/hashes/h", { method: "DELETE" });

  assert.equal(deleted.status, 204);
  await expectProblem(await app.request("/v1/cache/hashes/h"), 404, "cache.not_found");
});

Deno.test("a value and a hash under one key are 409 cache.wrong_type", SANITIZED, async () => {
  await using app = await open();
  await put(app, "value", "1");
  await app.request("/v1/cache/hashes/hash", { method: "PATCH", ...json({ a: "1" }) });

  await expectProblem(await app.request("/v1/cache/keys/hash"), 409, "cache.wrong_type");
  await expectProblem(
    await app.request("/v1/cache/hashes/value", { method: "PATCH", ...json({ a: "1" }) }),
    409,
    "cache.wrong_type",
  );
});

Deno.test(
  "a hash field value that is not a string or null is 400 naming it",
  SANITIZED,
  async () => {
    await using app = await open();

    const response = await app.request("/v1/cache/hashes/h", {
      method: "PATCH",
      ...json({ n: 1 }),
    });

    await expectProblem(response, 400, "core.validation_failed", "body.n");
  },
);

Deno.test(
  "a hash field name with a control character is 400 cache.field_invalid",
  SANITIZED,
  async () => {
    await using app = await open();

    const response = await app.request("/v1/cache/hashes/h", {
      method: "PATCH",
      ...json({ "bad\u0001name": "v" }),
    });

    await expectProblem(response, 400, "cache.field_invalid", "body.bad\u0001name");
  },
);

Deno.test("a hash field value over maxValueSize is 413", SANITIZED, async () => {
  await using app = await open({ bodyLimit: "8KiB" });

  const response = await app.request("/v1/cache/hashes/h", {
    method: "PATCH",
    ...json({ big: "x".repeat(1_025) }),
  });

  await expectProblem(response, 413, "cache.value_too_large", "body.big");
});

Deno.test("a hash past maxHashFields is 409 cache.hash_full", SANITIZED, async () => {
  await using app = await open({ maxHashFields: 2 });
  await app.request("/v1/cache/hashes/h", { method: "PATCH", ...json({ a: "1", b: "2" }) });

  const response = await app.request("/v1/cache/hashes/h", {
    method: "PATCH",
    ...json({ c: "3" }),
  });

  await expectProblem(response, 409, "cache.hash_full", "body");
});

// --- batch ---------------------------------------------------------------------------------

Deno.test("POST /batch sets, then deletes, then gets in one request", SANITIZED, async () => {
  await using app = await open({ maxBatchSize: 6 });
  await put(app, "old", "o");

  const response = await app.request("/v1/cache/batch", {
    method: "POST",
    ...json({
      set: [
        { key: "text", value: "hello", contentType: "text/plain", ttl: "1m" },
        { key: "bin", value: btoa("\u0000\u00ff\u00fe"), encoding: "base64" },
      ],
      delete: ["old"],
      get: ["text", "bin", "old"],
    }),
  });

  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.deepEqual(body.set, [{ key: "text", created: true }, { key: "bin", created: true }]);
  assert.deepEqual(body.delete, [{ key: "old", deleted: true }]);
  assert.deepEqual(body.get[0], {
    key: "text",
    found: true,
    value: "hello",
    encoding: "utf8",
    contentType: "text/plain",
    ttl: 60,
  });
  assert.deepEqual(body.get[1], {
    key: "bin",
    found: true,
    value: btoa("\u0000\u00ff\u00fe"),
    encoding: "base64",
    contentType: "application/octet-stream",
    ttl: null,
  });
  assert.deepEqual(body.get[2], { key: "old", found: false });
});

Deno.test(
  "a batch get of a hash answers found: false with cache.wrong_type",
  SANITIZED,
  async () => {
    await using app = await open();
    await app.request("/v1/cache/hashes/h", { method: "PATCH", ...json({ a: "1" }) });

    const response = await app.request("/v1/cache/batch", {
      method: "POST",
      ...json({ get: ["h"] }),
    });

    assert.deepEqual((await response.json()).get, [{
      key: "h",
      found: false,
      code: "cache.wrong_type",
    }]);
  },
);

Deno.test("a batch over maxBatchSize operations is 400", SANITIZED, async () => {
  await using app = await open();

  const response = await app.request("/v1/cache/batch", {
    method: "POST",
    ...json({ get: ["a", "b", "c"], delete: ["d", "e", "f"] }),
  });

  await expectProblem(response, 400, "core.validation_failed", "body");
});

Deno.test("a batch with an invalid key is 400 cache.key_invalid naming it", SANITIZED, async () => {
  await using app = await open();

  const response = await app.request("/v1/cache/batch", {
    method: "POST",
    ...json({ set: [{ key: "ok", value: "v" }], get: ["fine", "bad\u0000key"] }),
  });

  await expectProblem(response, 400, "cache.key_invalid", "body.get.1");
  await expectProblem(await app.request("/v1/cache/keys/ok"), 404, "cache.not_found");
});

Deno.test(
  "a batch key with a dot segment is 400 cache.key_invalid: GET could never address it",
  SANITIZED,
  async () => {
    await using app = await open();

    const response = await app.request("/v1/cache/batch", {
      method: "POST",
      ...json({ set: [{ key: "a/../b", value: "v" }] }),
    });

    await expectProblem(response, 400, "cache.key_invalid", "body.set.0.key");
  },
);

Deno.test("a batch value over maxValueSize is 413 naming it", SANITIZED, async () => {
  await using app = await open();

  const response = await app.request("/v1/cache/batch", {
    method: "POST",
    ...json({ set: [{ key: "big", value: "x".repeat(1_025) }] }),
  });

  await expectProblem(response, 413, "cache.value_too_large", "body.set.0.value");
});

Deno.test("a batch with an unknown member is 400 naming it", SANITIZED, async () => {
  await using app = await open();

  const response = await app.request("/v1/cache/batch", { method: "POST", ...json({ put: [] }) });

  await expectProblem(response, 400, "core.validation_failed");
});

// --- listing -------------------------------------------------------------------------------

Deno.test("GET /keys pages through every key with an opaque cursor", SANITIZED, async () => {
  await using app = await open();
  const written = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, "0")}`);
  for (const key of written) await put(app, key, "v");
  await put(app, "other", "v");

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await (await app.request(`/v1/cache/keys?prefix=k&limit=10${query}`)).json();
    assert.ok(page.keys.length <= 10);
    seen.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== null);

  assert.deepEqual(seen.sort(), written);
});

Deno.test(
  "GET /keys with a cursor it did not make is 400 cache.cursor_invalid",
  SANITIZED,
  async () => {
    await using app = await open();

    const response = await app.request("/v1/cache/keys?cursor=bm90LWEtY3Vyc29y");

    await expectProblem(response, 400, "cache.cursor_invalid", "query.cursor");
  },
);

Deno.test(
  "GET /keys answers every page as { keys, cursor }, cursor null on the last",
  SANITIZED,
  async () => {
    await using app = await open();
    for (const key of ["a", "b", "c"]) await put(app, key, "v");

    const first = await (await app.request("/v1/cache/keys?limit=2")).json();
    const last = await (
      await app.request(`/v1/cache/keys?limit=2&cursor=${encodeURIComponent(first.cursor)}`)
    ).json();

    assert.deepEqual(Object.keys(first).sort(), ["cursor", "keys"]);
    assert.equal(typeof first.cursor, "string");
    assert.deepEqual(Object.keys(last).sort(), ["cursor", "keys"]);
    assert.equal(last.cursor, null);
    assert.deepEqual([...first.keys, ...last.keys].sort(), ["a", "b", "c"]);
  },
);

Deno.test(
  "GET /keys without a limit answers at most defaultPageSize keys",
  SANITIZED,
  async () => {
    await using app = await open({ defaultPageSize: 2 });
    for (const key of ["a", "b", "c"]) await put(app, key, "v");

    const page = await (await app.request("/v1/cache/keys")).json();

    assert.equal(page.keys.length, 2);
    assert.equal(typeof page.cursor, "string");
  },
);

Deno.test(
  "GET /keys with the cursor of another prefix is 400 cache.cursor_invalid naming query.cursor",
  SANITIZED,
  async () => {
    await using app = await open();
    for (const key of ["a:1", "a:2", "b:1"]) await put(app, key, "v");
    const { cursor } = await (await app.request("/v1/cache/keys?prefix=a:&limit=1")).json();

    const response = await app.request(
      `/v1/cache/keys?prefix=b:&limit=1&cursor=${encodeURIComponent(cursor)}`,
    );

    await expectProblem(response, 400, "cache.cursor_invalid", "query.cursor");
  },
);

Deno.test(
  "GET /keys with an empty or overlong cursor is 400 cache.cursor_invalid naming query.cursor",
  SANITIZED,
  async () => {
    await using app = await open();

    for (const cursor of ["", "A".repeat(4_097)]) {
      const response = await app.request(`/v1/cache/keys?cursor=${cursor}`);
      await expectProblem(response, 400, "cache.cursor_invalid", "query.cursor");
    }
  },
);

Deno.test(
  "GET /keys with a limit over maxPageSize is 400 naming query.limit",
  SANITIZED,
  async () => {
    await using app = await open();

    for (const limit of ["51", "0", "ten"]) {
      await expectProblem(
        await app.request(`/v1/cache/keys?limit=${limit}`),
        400,
        "core.validation_failed",
        "query.limit",
      );
    }
  },
);

Deno.test("GET /keys with a prefix holding a control character is 400", SANITIZED, async () => {
  await using app = await open();

  const response = await app.request("/v1/cache/keys?prefix=a%01");

  await expectProblem(response, 400, "cache.key_invalid", "query.prefix");
});

// --- the plugin ----------------------------------------------------------------------------

Deno.test("the plugin exports rateLimit for the core", SANITIZED, async () => {
  await using app = await open();
  const cache = app.lifecycle.get("cache")!.instance.exports as CacheExports;

  const results = [];
  for (let i = 0; i < 3; i++) results.push(await cache.rateLimit("ip:127.0.0.1", 2, 60_000));

  assert.deepEqual(results.map((r) => r.allowed), [true, true, false]);
  assert.equal(results[2]!.remaining, 0);
  assert.ok(results[2]!.resetMs > 0 && results[2]!.resetMs <= 60_000);
});

Deno.test("the exports offer no way to close or purge the cache", SANITIZED, async () => {
  await using app = await open();
  const cache = app.lifecycle.get("cache")!.instance.exports as Record<string, unknown>;

  assert.equal(cache.close, undefined);
  assert.equal(cache.purge, undefined);
});

Deno.test("the OpenAPI document describes the cache routes", SANITIZED, async () => {
  await using app = await open();

  const spec = await (await app.request("/openapi.json")).json();

  for (const path of ["/v1/cache/keys/{key}", "/v1/cache/keys", "/v1/cache/batch"]) {
    assert.ok(spec.paths[path], path);
  }
  assert.ok(spec.paths["/v1/cache/keys/{key}"].put);
});

Deno.test(
  "the OpenAPI document states the listing convention and the shared Problem",
  SANITIZED,
  async () => {
    await using app = await open();

    const spec = await (await app.request("/openapi.json")).json();
    const list = spec.paths["/v1/cache/keys"].get;
    const page = spec.components.schemas.CacheKeyPage;

    assert.deepEqual(
      list.parameters.map((p: { name: string }) => p.name).sort(),
      ["cursor", "limit", "prefix"],
    );
    assert.ok(page.required.includes("cursor"), "cursor is always present");
    assert.ok(
      page.properties.cursor.nullable === true || page.properties.cursor.type?.includes("null"),
      "cursor may be null",
    );
    assert.equal(
      list.responses["400"].content["application/problem+json"].schema.$ref,
      "#/components/schemas/Problem",
    );
  },
);

Deno.test("a redis backend with a typo'd option is refused at config time", SANITIZED, async () => {
  const error = await openApp(
    configYaml({ cache: { backend: "redis", maxEntries: 10 } }),
    registry,
  ).then(() => undefined, (e: Error) => e);

  assert.ok(error instanceof Error);
  assert.match(error.message, /maxEntries/);
});

Deno.test("hits, misses, the hit ratio and command latency reach /metrics", SANITIZED, async () => {
  const metricsRegistry = new Map([...observabilityRegistry(), ["cache", cachePlugin]]);
  await using app = await openApp(
    observabilityYaml({ plugins: { cache: { ...FAST_SETTINGS } } }),
    metricsRegistry,
  );
  await put(app, "k", "v");
  for (const key of ["k", "k", "k", "absent"]) {
    await (await app.request(`/v1/cache/keys/${key}`)).body?.cancel();
  }

  const text = await (await app.request("/metrics")).text();

  assert.match(text, /^edgebox_cache_hits_total\{[^}]*instance="cache"[^}]*\} 3$/m);
  assert.match(text, /^edgebox_cache_misses_total\{[^}]*instance="cache"[^}]*\} 1$/m);
  assert.match(text, /^edgebox_cache_hit_ratio\{[^}]*instance="cache"[^}]*\} 0\.75$/m);
  assert.match(text, /^edgebox_plugin_operation_duration_seconds_count\{[^}]*operation="get"/m);
});
