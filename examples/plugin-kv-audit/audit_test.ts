/**
 * Specification of the audit plugin, through a whole edgebox built in process by the testing kit
 * (core middleware, auth, scopes, the cache providing `KEY_VALUE`): values written through
 * `/v1/audit/kv/{key}` land in the cache under `audit:<key>`, every change that succeeded is in
 * the trail at `/v1/audit/log`, paged newest first with an opaque cursor, and every refusal is
 * problem+json with an `audit.*` code naming the field.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { builtinPlugins, encodeCursor } from "../../mod.ts";
import { openTestEdgebox, SANITIZED, type TestEdgebox } from "../../testing/mod.ts";
import { auditPlugin } from "./mod.ts";

const plugins = [...builtinPlugins, auditPlugin];
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Alice may do anything; the auditor may only read (`audit:read`, `cache:read`). */
const ALICE = { authorization: "Bearer alice-key-0123456789" };
const AUDITOR = { authorization: "Bearer auditor-key-0123456789" };
const AUTH = {
  keys: [
    { name: "alice", key: "alice-key-0123456789", scopes: ["*"] },
    { name: "auditor", key: "auditor-key-0123456789", scopes: ["audit:read", "cache:read"] },
  ],
};

/** An edgebox with a memory cache and an audit instance; `audit` adds to its block. */
function open(
  audit: Record<string, unknown> = {},
  more: Record<string, unknown> = {},
): Promise<TestEdgebox> {
  return openTestEdgebox({
    plugins,
    config: {
      auth: AUTH,
      plugins: { cache: { backend: "memory" }, audit: { backend: "memory", ...audit }, ...more },
    },
  });
}

function put(
  edgebox: TestEdgebox,
  key: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return edgebox.request(`/v1/audit/kv/${key}`, {
    method: "PUT",
    body,
    headers: { ...ALICE, "content-type": "text/plain", ...headers },
  });
}

/** Puts `count` values `k1`, `k2`... and drains each answer. */
async function putMany(edgebox: TestEdgebox, count: number, from = 1): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const response = await put(edgebox, `k${i}`, `v${i}`);
    assert.equal(response.status, 201);
  }
}

interface AuditRecord {
  seq: number;
  at: string;
  action: string;
  key: string;
  size?: number;
  etag?: string;
  principal: string;
}

interface LogPage {
  records: AuditRecord[];
  cursor: string | null;
}

async function logPage(edgebox: TestEdgebox, query = ""): Promise<LogPage> {
  const response = await edgebox.request(`/v1/audit/log${query}`, { headers: ALICE });
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

/** Follows the cursor to the end, returning each page's seqs. */
async function allPages(edgebox: TestEdgebox, limit: number): Promise<number[][]> {
  const pages: number[][] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`;
    const page = await logPage(edgebox, query);
    pages.push(page.records.map((record) => record.seq));
    cursor = page.cursor;
  } while (cursor !== null);
  return pages;
}

/** Asserts a problem+json answer with this status, code and field. */
async function expectProblem(
  response: Response,
  status: number,
  code: string,
  field?: string,
): Promise<void> {
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  const problem = await response.json();
  assert.equal(response.status, status, JSON.stringify(problem));
  assert.equal(problem.code, code);
  if (field !== undefined) assert.equal(problem.field, field);
}

// --- values --------------------------------------------------------------------------------

Deno.test(
  "a value put through the audit API lands in the cache under audit:<key>, with the same ETag",
  SANITIZED,
  async () => {
    await using edgebox = await open();
    const created = await put(edgebox, "greeting", "hello");
    assert.equal(created.status, 201);
    const etag = created.headers.get("etag");
    assert.match(etag ?? "", /^"[0-9a-f]{40}"$/);

    const read = await edgebox.request("/v1/audit/kv/greeting", { headers: ALICE });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("content-type"), "text/plain");
    assert.equal(read.headers.get("etag"), etag);
    assert.equal(await read.text(), "hello");

    const inCache = await edgebox.request("/v1/cache/keys/audit:greeting", { headers: ALICE });
    assert.equal(inCache.status, 200);
    assert.equal(inCache.headers.get("etag"), etag);
    assert.equal(await inCache.text(), "hello");

    const replaced = await put(edgebox, "greeting", "hello again");
    assert.equal(replaced.status, 204);
    await replaced.body?.cancel();
  },
);

Deno.test("keyPrefix sets where the values live in the cache", SANITIZED, async () => {
  await using edgebox = await open({ keyPrefix: "trail/" });
  (await put(edgebox, "a", "1")).body?.cancel();
  const inCache = await edgebox.request("/v1/cache/keys/trail%2Fa", { headers: ALICE });
  assert.equal(inCache.status, 200);
  assert.equal(await inCache.text(), "1");
});

Deno.test("a delete removes the value from the cache; a second one is 404", SANITIZED, async () => {
  await using edgebox = await open();
  (await put(edgebox, "gone", "soon")).body?.cancel();
  const deleted = await edgebox.request("/v1/audit/kv/gone", { method: "DELETE", headers: ALICE });
  assert.equal(deleted.status, 204);
  await expectProblem(
    await edgebox.request("/v1/cache/keys/audit:gone", { headers: ALICE }),
    404,
    "cache.not_found",
  );
  await expectProblem(
    await edgebox.request("/v1/audit/kv/gone", { method: "DELETE", headers: ALICE }),
    404,
    "audit.not_found",
    "path.key",
  );
  await expectProblem(
    await edgebox.request("/v1/audit/kv/gone", { headers: ALICE }),
    404,
    "audit.not_found",
    "path.key",
  );
  assert.deepEqual((await logPage(edgebox)).records.map((r) => r.action), ["delete", "put"]);
});

Deno.test("HEAD answers a value's headers and length without its bytes", SANITIZED, async () => {
  await using edgebox = await open();
  const etag = (await put(edgebox, "k", "five!")).headers.get("etag");
  const response = await edgebox.request("/v1/audit/kv/k", { method: "HEAD", headers: ALICE });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("etag"), etag);
  assert.equal(response.headers.get("content-length"), "5");
  assert.equal(await response.text(), "");
});

Deno.test("If-None-Match on a read answers 304 when the tag matches", SANITIZED, async () => {
  await using edgebox = await open();
  const etag = (await put(edgebox, "k", "v")).headers.get("etag")!;
  const response = await edgebox.request("/v1/audit/kv/k", {
    headers: { ...ALICE, "if-none-match": `W/${etag}` },
  });
  assert.equal(response.status, 304);
  assert.equal(response.headers.get("etag"), etag);
});

// --- the trail -----------------------------------------------------------------------------

Deno.test(
  "every change that succeeded is recorded, newest first, with the API key's name",
  SANITIZED,
  async () => {
    await using edgebox = await open();
    const etag = (await put(edgebox, "doc", "first")).headers.get("etag");
    (await put(edgebox, "doc", "second!")).body?.cancel();
    (await edgebox.request("/v1/audit/kv/doc", { method: "DELETE", headers: ALICE })).body
      ?.cancel();

    const { records, cursor } = await logPage(edgebox);
    assert.equal(cursor, null);
    assert.deepEqual(
      records.map(({ seq, action, key, size, principal }) => ({
        seq,
        action,
        key,
        size,
        principal,
      })),
      [
        { seq: 3, action: "delete", key: "doc", size: undefined, principal: "alice" },
        { seq: 2, action: "put", key: "doc", size: 7, principal: "alice" },
        { seq: 1, action: "put", key: "doc", size: 5, principal: "alice" },
      ],
    );
    assert.equal(records[2]!.etag, etag);
    assert.equal("etag" in records[0]!, false);
    for (const record of records) assert.ok(Date.parse(record.at) <= Date.now());
  },
);

Deno.test("the trail pages with the cursor, each record exactly once", SANITIZED, async () => {
  await using edgebox = await open();
  await putMany(edgebox, 7);
  assert.deepEqual(await allPages(edgebox, 3), [[7, 6, 5], [4, 3, 2], [1]]);
});

Deno.test("a page that ends the trail says cursor null, with no empty page after it", {
  ...SANITIZED,
}, async () => {
  await using edgebox = await open();
  await putMany(edgebox, 6);
  assert.deepEqual(await allPages(edgebox, 3), [[6, 5, 4], [3, 2, 1]]);
  assert.deepEqual(await allPages(edgebox, 10), [[6, 5, 4, 3, 2, 1]]);
});

Deno.test(
  "changes made while paging do not disturb the listing (they are newer than its first page)",
  SANITIZED,
  async () => {
    await using edgebox = await open();
    await putMany(edgebox, 5);
    const first = await logPage(edgebox, "?limit=2");
    await putMany(edgebox, 3, 6);
    const rest = await logPage(edgebox, `?limit=10&cursor=${first.cursor}`);
    assert.deepEqual(
      [...first.records, ...rest.records].map((record) => record.seq),
      [5, 4, 3, 2, 1],
    );
    assert.equal(rest.cursor, null);
  },
);

Deno.test("the trail keeps the newest maxRecords records", SANITIZED, async () => {
  await using edgebox = await open({ maxRecords: 3 });
  await putMany(edgebox, 5);
  assert.deepEqual(await allPages(edgebox, 2), [[5, 4], [3]]);
});

Deno.test(
  "a forged cursor, or one from another listing, is 400 audit.cursor_invalid",
  SANITIZED,
  async () => {
    await using edgebox = await open({}, { other: { type: "audit", backend: "memory" } });
    await putMany(edgebox, 3);
    for (let i = 0; i < 3; i++) {
      const response = await edgebox.request(`/v1/other/kv/o${i}`, {
        method: "PUT",
        body: "x",
        headers: ALICE,
      });
      await response.body?.cancel();
    }
    const keys = await edgebox.request("/v1/cache/keys?limit=1", { headers: ALICE });
    const cacheCursor = (await keys.json()).cursor;
    assert.equal(typeof cacheCursor, "string");
    const otherCursor = (await (await edgebox.request("/v1/other/log?limit=1", {
      headers: ALICE,
    })).json()).cursor;
    assert.equal(typeof otherCursor, "string");

    const refused = [
      "not-a-cursor",
      encodeCursor("audit.log:audit", 2),
      cacheCursor,
      otherCursor,
      "x".repeat(5_000),
    ];
    for (const cursor of refused) {
      await expectProblem(
        await edgebox.request(`/v1/audit/log?cursor=${encodeURIComponent(cursor)}`, {
          headers: ALICE,
        }),
        400,
        "audit.cursor_invalid",
        "query.cursor",
      );
    }
  },
);

Deno.test("a page larger than maxPageSize is 400 naming query.limit", SANITIZED, async () => {
  await using edgebox = await open({ maxPageSize: 10, defaultPageSize: 5 });
  for (const limit of ["11", "0", "two"]) {
    await expectProblem(
      await edgebox.request(`/v1/audit/log?limit=${limit}`, { headers: ALICE }),
      400,
      "core.validation_failed",
      "query.limit",
    );
  }
});

// --- conditions ----------------------------------------------------------------------------

Deno.test(
  "a put whose If-Match does not match is 412 and is not recorded as a change",
  SANITIZED,
  async () => {
    await using edgebox = await open();
    const etag = (await put(edgebox, "doc", "v1")).headers.get("etag")!;

    await expectProblem(
      await put(edgebox, "doc", "v2", { "if-match": '"0000"' }),
      412,
      "audit.precondition_failed",
      "header.if-match",
    );
    await expectProblem(
      await put(edgebox, "absent", "v2", { "if-match": "*" }),
      412,
      "audit.precondition_failed",
      "header.if-match",
    );
    const inCache = await edgebox.request("/v1/cache/keys/audit:doc", { headers: ALICE });
    assert.equal(await inCache.text(), "v1");
    assert.deepEqual((await logPage(edgebox)).records.map((r) => r.seq), [1]);

    const matched = await put(edgebox, "doc", "v2", { "if-match": `"0000", ${etag}` });
    assert.equal(matched.status, 204);
    assert.deepEqual((await logPage(edgebox)).records.map((r) => r.seq), [2, 1]);
  },
);

Deno.test(
  "If-None-Match: * creates only; a taken key is 412, not recorded",
  SANITIZED,
  async () => {
    await using edgebox = await open();
    assert.equal((await put(edgebox, "once", "a", { "if-none-match": "*" })).status, 201);
    await expectProblem(
      await put(edgebox, "once", "b", { "if-none-match": "*" }),
      412,
      "audit.precondition_failed",
      "header.if-none-match",
    );
    assert.equal((await logPage(edgebox)).records.length, 1);
  },
);

Deno.test("a delete whose If-Match does not match is 412 and not recorded", SANITIZED, async () => {
  await using edgebox = await open();
  const etag = (await put(edgebox, "doc", "v1")).headers.get("etag")!;
  await expectProblem(
    await edgebox.request("/v1/audit/kv/doc", {
      method: "DELETE",
      headers: { ...ALICE, "if-match": '"0000"' },
    }),
    412,
    "audit.precondition_failed",
    "header.if-match",
  );
  assert.equal((await logPage(edgebox)).records.length, 1);
  const deleted = await edgebox.request("/v1/audit/kv/doc", {
    method: "DELETE",
    headers: { ...ALICE, "if-match": etag },
  });
  assert.equal(deleted.status, 204);
  assert.equal((await logPage(edgebox)).records.length, 2);
});

Deno.test("a condition the route cannot honour is 400 naming the header", SANITIZED, async () => {
  await using edgebox = await open();
  (await put(edgebox, "doc", "v1")).body?.cancel();
  const cases: [string, RequestInit, string][] = [
    [
      "/v1/audit/kv/doc",
      { headers: { "if-modified-since": new Date().toUTCString() } },
      "if-modified-since",
    ],
    [
      "/v1/audit/kv/doc",
      { method: "PUT", body: "x", headers: { "if-none-match": '"a"' } },
      "if-none-match",
    ],
    [
      "/v1/audit/kv/doc",
      { method: "PUT", body: "x", headers: { "if-match": "nonsense" } },
      "if-match",
    ],
    ["/v1/audit/kv/doc", { method: "DELETE", headers: { "if-none-match": "*" } }, "if-none-match"],
    ["/v1/audit/log", { headers: { "if-match": "*" } }, "if-match"],
  ];
  for (const [path, init, header] of cases) {
    const response = await edgebox.request(path, {
      ...init,
      headers: { ...ALICE, ...init.headers as Record<string, string> },
    });
    await expectProblem(response, 400, "core.validation_failed", `header.${header}`);
  }
  assert.equal((await logPage(edgebox)).records.length, 1);
});

// --- keys ----------------------------------------------------------------------------------

Deno.test("a bad key is 400 audit.key_invalid naming path.key", SANITIZED, async () => {
  await using edgebox = await open({ maxKeyBytes: 8 });
  for (const key of ["123456789", "a%01b", "nel%C2%85", ""]) {
    await expectProblem(
      await put(edgebox, key, "x"),
      400,
      "audit.key_invalid",
      "path.key",
    );
    await expectProblem(
      await edgebox.request(`/v1/audit/kv/${key}`, { headers: ALICE }),
      400,
      "audit.key_invalid",
      "path.key",
    );
  }
  assert.equal((await logPage(edgebox)).records.length, 0);
});

Deno.test(
  "a key the cache refuses once prefixed is 400 audit.key_invalid naming path.key",
  SANITIZED,
  async () => {
    await using edgebox = await openTestEdgebox({
      plugins,
      config: {
        auth: AUTH,
        plugins: {
          cache: { backend: "memory", maxKeyBytes: 16 },
          audit: { backend: "memory", maxKeyBytes: 16 },
        },
      },
    });
    await expectProblem(
      await put(edgebox, "sixteen-bytes-ok", "x"),
      400,
      "audit.key_invalid",
      "path.key",
    );
    assert.equal((await logPage(edgebox)).records.length, 0);
  },
);

// --- scopes and config ---------------------------------------------------------------------

Deno.test("audit:read may read values and the trail, not write", SANITIZED, async () => {
  await using edgebox = await open();
  (await put(edgebox, "doc", "v1")).body?.cancel();
  const read = await edgebox.request("/v1/audit/log", { headers: AUDITOR });
  assert.equal(read.status, 200);
  await read.body?.cancel();
  await expectProblem(
    await edgebox.request("/v1/audit/kv/doc", {
      method: "PUT",
      body: "mine",
      headers: AUDITOR,
    }),
    403,
    "core.forbidden",
  );
});

Deno.test(
  "a config without any cache instance is refused at config time, naming the capability",
  SANITIZED,
  async () => {
    await assert.rejects(
      openTestEdgebox({ plugins, config: { plugins: { audit: { backend: "memory" } } } }),
      (error: Error) => {
        assert.equal(error.name, "ConfigError");
        assert.match(error.message, /plugins\.audit: .*capability edgebox\.keyValue/);
        return true;
      },
    );
  },
);

Deno.test("the audit config is strict: a misspelt field is a config error", SANITIZED, async () => {
  await assert.rejects(
    open({ maxRecord: 5 }),
    (error: Error) => {
      assert.equal(error.name, "ConfigError");
      assert.match(error.message, /maxRecord/);
      return true;
    },
  );
});

// --- the custom binary ---------------------------------------------------------------------

async function binary(...args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/plugin-kv-audit/main.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return { code: output.code, stdout };
}

Deno.test("the custom binary checks a config enabling the audit plugin", SANITIZED, async () => {
  const { stdout } = await binary("check", "--config", "examples/plugin-kv-audit/edgebox.yaml");
  assert.match(stdout, /: ok \(2 plugins: cache, audit\)/);
});

Deno.test("the custom binary lists type audit among its plugins", SANITIZED, async () => {
  const { stdout } = await binary("plugins", "--json");
  const types = JSON.parse(stdout) as { type: string; requires: string[] }[];
  assert.ok(types.some((entry) => entry.type === "cache"));
  const audit = types.find((entry) => entry.type === "audit");
  assert.deepEqual(audit?.requires, ["capability edgebox.keyValue"]);
});
