/**
 * Runs the graph contract against the SQLite graph (each driver on a file of its own), then what
 * only a durable graph promises: everything acknowledged reads back equal after a restart, a
 * failed batch leaves nothing on disk, a damaged file refuses to load, a failed commit breaks the
 * driver until it reloads, and the plugin keeps its file under `server.dataDir`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { EdgeboxError } from "../../core/errors.ts";
import { DataFileError } from "../../core/sqlite.ts";
import type { GraphLimits, NodeRef } from "../../plugins/graph/driver.ts";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { SqliteGraph } from "../../plugins/graph/sqlite.ts";
import { configYaml, openApp, SANITIZED } from "../_helpers.ts";
import { runGraphContract } from "./graph_contract.ts";

/** A SqliteGraph on a fresh temp dir, removed when the driver first closes. */
class TempSqliteGraph extends SqliteGraph {
  readonly #dir: string;
  #removed = false;

  constructor(limits: GraphLimits) {
    const dir = Deno.makeTempDirSync({ prefix: "edgebox-graph-" });
    super({
      ...limits,
      maxNodes: 100_000,
      maxEdges: 100_000,
      durability: "normal",
      file: () => join(dir, "graph.db"),
    });
    this.#dir = dir;
  }

  override async close(): Promise<void> {
    await super.close();
    if (!this.#removed) Deno.removeSync(this.#dir, { recursive: true });
    this.#removed = true;
  }
}

runGraphContract({
  name: "sqlite",
  features: new SqliteGraph({
    cycleCheckDepth: 1,
    maxNodes: 1,
    maxEdges: 1,
    durability: "normal",
    file: () => "unused",
  }).features,
  async open(limits) {
    const graph = new TempSqliteGraph(limits);
    try {
      await graph.connect();
    } catch (error) {
      await graph.close();
      throw error;
    }
    return graph;
  },
});

// --- restarts --------------------------------------------------------------------------------

/** A temp dir and a graph file in it; the dir goes when disposed. */
function tempFile(): { dir: string; file: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "edgebox-graph-" });
  return {
    dir,
    file: join(dir, "graph.db"),
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

/** A connected SqliteGraph on `file`. */
async function open(
  file: string,
  extra: { maxNodes?: number; cycleCheckDepth?: number } = {},
): Promise<SqliteGraph> {
  const graph = new SqliteGraph({
    cycleCheckDepth: extra.cycleCheckDepth ?? 100,
    maxNodes: extra.maxNodes ?? 100_000,
    maxEdges: 100_000,
    durability: "fsync",
    file: () => file,
  });
  await graph.connect();
  return graph;
}

async function rejects(work: Promise<unknown>, code: string): Promise<EdgeboxError> {
  const error = await work.then(
    () => assert.fail(`expected ${code}, but it succeeded`),
    (caught: unknown) => caught,
  );
  assert.equal((error as EdgeboxError).code, code, String(error));
  return error as EdgeboxError;
}

/** Rows of a table, read behind the driver's back. */
function count(file: string, sql: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const T = (id: string): NodeRef => ({ label: "Task", id });
const P = (id: string): NodeRef => ({ label: "Person", id });

/** Writes a small dependency graph through every kind of write. */
async function seed(graph: SqliteGraph): Promise<void> {
  await graph.upsertNode({
    ...T("a"),
    properties: {
      title: 'héllo ✓ "quoted"',
      points: 3,
      big: Number.MAX_SAFE_INTEGER,
      negativeZero: -0,
      float: 0.1 + 0.2,
      tiny: 5e-324,
      done: false,
      tags: ["x", "y"],
      sizes: [1, -0, 2.5],
      flags: [true, false],
      empty: [],
    },
  });
  await graph.upsertNode({ ...T("a"), properties: { title: "A", points: 3, negativeZero: -0 } });
  await graph.batch([
    { op: "node", ...T("b"), properties: { title: "B" } },
    { op: "node", ...T("c"), properties: {} },
    { op: "node", ...T("d"), properties: {} },
    { op: "node", ...T("gone"), properties: { soon: true } },
    { op: "node", ...P("ann"), properties: { name: "Ann" } },
    { op: "edge", from: T("a"), type: "DEPENDS_ON", to: T("b"), properties: { weight: 2 } },
    { op: "edge", from: T("b"), type: "DEPENDS_ON", to: T("c") },
    { op: "edge", from: T("c"), type: "DEPENDS_ON", to: T("d"), rejectCycle: true },
    { op: "edge", from: T("a"), type: "DEPENDS_ON", to: T("gone") },
    { op: "edge", from: T("gone"), type: "DEPENDS_ON", to: T("d") },
    { op: "edge", from: P("ann"), type: "OWNS", to: T("a"), properties: { since: [2024, 1] } },
  ]);
  await graph.upsertEdge({
    from: T("b"),
    type: "DEPENDS_ON",
    to: T("c"),
    properties: { weight: -0.5 },
  });
  await graph.upsertEdge({ from: T("d"), type: "BLOCKS", to: T("a") });
  assert.equal(await graph.deleteEdge({ from: T("d"), type: "BLOCKS", to: T("a") }), true);
  assert.equal(await graph.deleteNode(T("gone")), true);
}

/** Everything the graph answers about the seeded nodes, to compare across a restart. */
async function readAll(graph: SqliteGraph): Promise<unknown[]> {
  const reads: unknown[] = [];
  for (const ref of [T("a"), T("b"), T("c"), T("d"), T("gone"), P("ann")]) {
    reads.push(await graph.getNode(ref));
    for (const direction of ["out", "in", "both"] as const) {
      for (const depth of [1, 2, 4]) {
        reads.push(await graph.neighbors(ref, { direction, depth, limit: 100 }));
      }
    }
  }
  reads.push(await graph.shortestPath(P("ann"), T("d"), { direction: "out", maxDepth: 10 }));
  reads.push(await graph.shortestPath(T("d"), T("a"), { direction: "both", maxDepth: 10 }));
  reads.push(await graph.findNodes("Task", { limit: 100 }));
  reads.push(await graph.findNodes("Task", { limit: 100, where: { title: "B" } }));
  reads.push(await graph.cycles({ type: "DEPENDS_ON", maxLength: 10, limit: 10 }));
  return reads;
}

Deno.test(
  "sqlite graph: everything acknowledged reads back equal after a restart, deletions included",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    const first = await open(tmp.file);
    await seed(first);
    const before = await readAll(first);
    await first.close();

    await using second = await open(tmp.file);
    const after = await readAll(second);

    assert.deepEqual(after, before);
    // deepEqual treats -0 and 0 alike: check the values that must stay -0 one by one.
    const a = await second.getNode(T("a"));
    assert.ok(Object.is(a?.properties.negativeZero, -0), "-0 stays -0");
    const [path] = [await second.shortestPath(T("b"), T("c"), { direction: "out", maxDepth: 1 })];
    assert.ok(Object.is(path?.relationships[0]?.properties.weight, -0.5));
    assert.deepEqual(a?.properties, { title: "A", points: 3, negativeZero: -0 });
    assert.equal(await second.getNode(T("gone")), undefined);
    assert.equal(
      await second.deleteEdge({ from: T("a"), type: "DEPENDS_ON", to: T("gone") }),
      false,
    );
    assert.equal(await second.deleteEdge({ from: T("d"), type: "BLOCKS", to: T("a") }), false);
    assert.equal(count(tmp.file, "SELECT count(*) AS n FROM nodes"), 5);
    assert.equal(count(tmp.file, "SELECT count(*) AS n FROM edges"), 4);
    assert.equal(
      count(tmp.file, "SELECT count(*) AS n FROM edges WHERE from_id = 'gone' OR to_id = 'gone'"),
      0,
    );
  },
);

Deno.test("sqlite graph: property values round-trip exactly", SANITIZED, async () => {
  using tmp = tempFile();
  const properties = {
    text: "tab\t newline\n nul\u0000 emoji 🙂 surrogate-free",
    backslash: "a\\b",
    maxSafe: Number.MAX_SAFE_INTEGER,
    minSafe: Number.MIN_SAFE_INTEGER,
    huge: 1.7976931348623157e308,
    tiny: 5e-324,
    third: 1 / 3,
    negativeZero: -0,
    zeros: [0, -0],
    strings: ["", "x"],
    booleans: [false],
  };
  const first = await open(tmp.file);
  await first.upsertNode({ ...T("v"), properties });
  await first.close();

  await using second = await open(tmp.file);
  const read = (await second.getNode(T("v")))?.properties;

  assert.deepEqual(read, properties);
  assert.deepEqual(Object.keys(read ?? {}), Object.keys(properties));
  for (const [key, value] of Object.entries(properties)) {
    const values = Array.isArray(value) ? value : [value];
    // Read through a plain record: deepEqual above narrowed `read` to the written type.
    const stored = (read as Record<string, unknown> | undefined)?.[key];
    const got = (Array.isArray(stored) ? stored : [stored]) as unknown[];
    values.forEach((v, i) => assert.ok(Object.is(got[i], v), `${key}[${i}] is ${v}`));
  }
});

Deno.test(
  "sqlite graph: ids and cycle checks are still enforced after a restart",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    const first = await open(tmp.file, { maxNodes: 6 });
    await seed(first);
    await first.close();

    await using second = await open(tmp.file, { maxNodes: 6 });

    assert.equal((await second.upsertNode({ ...T("a"), properties: { v: 2 } })).created, false);
    assert.equal(
      (await second.upsertEdge({ from: T("a"), type: "DEPENDS_ON", to: T("b") })).created,
      false,
    );
    const cycle = await rejects(
      second.upsertEdge({ from: T("d"), type: "DEPENDS_ON", to: T("a"), rejectCycle: true }),
      "graph.cycle_rejected",
    );
    assert.deepEqual(cycle.extra.cycle, [T("d"), T("a"), T("b"), T("c"), T("d")]);
    await rejects(
      second.upsertEdge({ from: T("d"), type: "DEPENDS_ON", to: T("gone") }),
      "graph.node_not_found",
    );
    // 5 nodes were loaded: one more fits under maxNodes 6, the next does not.
    await second.upsertNode({ ...T("e"), properties: {} });
    await rejects(second.upsertNode({ ...T("f"), properties: {} }), "graph.capacity_exceeded");
    assert.equal(
      await second.shortestPath(T("d"), T("a"), { direction: "out", maxDepth: 10 }),
      undefined,
    );
  },
);

Deno.test(
  "sqlite graph: a batch that fails midway leaves nothing on disk",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    const first = await open(tmp.file);
    await first.upsertNode({ ...T("kept"), properties: { version: 1 } });

    await rejects(
      first.batch([
        { op: "node", ...T("kept"), properties: { version: 2 } },
        { op: "node", ...T("new"), properties: {} },
        { op: "edge", from: T("new"), type: "DEPENDS_ON", to: T("kept") },
        { op: "edge", from: T("new"), type: "DEPENDS_ON", to: T("missing") },
      ]),
      "graph.node_not_found",
    );
    await first.close();

    assert.equal(count(tmp.file, "SELECT count(*) AS n FROM nodes"), 1);
    assert.equal(count(tmp.file, "SELECT count(*) AS n FROM edges"), 0);
    await using second = await open(tmp.file);
    assert.deepEqual(await second.getNode(T("kept")), {
      ...T("kept"),
      labels: ["Task"],
      properties: { version: 1 },
    });
    assert.equal(await second.getNode(T("new")), undefined);
  },
);

Deno.test(
  "sqlite graph: close, then connect on the same driver reloads the file",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    await using graph = await open(tmp.file);
    await seed(graph);
    const before = await readAll(graph);
    await graph.close();
    await rejects(graph.getNode(T("a")), "graph.unavailable");

    await graph.connect();

    assert.equal((await graph.ping()).status, "ready");
    assert.deepEqual(await readAll(graph), before);
  },
);

Deno.test("sqlite graph: a damaged file is a DataFileError naming it", SANITIZED, async () => {
  using tmp = tempFile();
  const graph = await open(tmp.file);
  await seed(graph);
  await graph.close();
  // Garbage over the header (and the start of the first page).
  const bytes = Deno.readFileSync(tmp.file);
  bytes.set(crypto.getRandomValues(new Uint8Array(200)), 0);
  Deno.writeFileSync(tmp.file, bytes);

  const error = await new SqliteGraph({
    cycleCheckDepth: 10,
    maxNodes: 10,
    maxEdges: 10,
    durability: "normal",
    file: () => tmp.file,
  }).connect().catch((e: unknown) => e);

  assert.ok(error instanceof DataFileError, String(error));
  assert.ok(error.message.includes(tmp.file), error.message);
});

Deno.test(
  "sqlite graph: a stored record that is not JSON is a DataFileError naming the file",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    const graph = await open(tmp.file);
    await graph.upsertNode({ ...T("a"), properties: { v: 1 } });
    await graph.close();
    const db = new DatabaseSync(tmp.file);
    db.exec("UPDATE nodes SET properties = '{\"v\": 1' WHERE id = 'a'");
    db.close();

    const error = await open(tmp.file).catch((e: unknown) => e);

    assert.ok(error instanceof DataFileError, String(error));
    assert.ok(error.message.includes(tmp.file), error.message);
  },
);

Deno.test(
  "sqlite graph: a failed commit answers unavailable, ping is down, and connect reloads",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    await using graph = await open(tmp.file);
    await graph.upsertNode({ ...T("ok"), properties: {} });
    // Another connection makes the next write of node `boom` fail inside the commit.
    const saboteur = new DatabaseSync(tmp.file);
    try {
      saboteur.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON nodes WHEN NEW.id = 'boom' " +
          "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
      );

      await rejects(graph.upsertNode({ ...T("boom"), properties: {} }), "graph.unavailable");

      const health = await graph.ping();
      assert.equal(health.status, "down");
      assert.match(health.detail ?? "", /injected failure/);
      await rejects(graph.getNode(T("ok")), "graph.unavailable");
      await rejects(graph.upsertNode({ ...T("later"), properties: {} }), "graph.unavailable");
      saboteur.exec("DROP TRIGGER boom");
    } finally {
      saboteur.close();
    }

    await graph.connect();

    assert.equal((await graph.ping()).status, "ready");
    assert.deepEqual(await graph.getNode(T("ok")), {
      ...T("ok"),
      labels: ["Task"],
      properties: {},
    });
    assert.equal(await graph.getNode(T("boom")), undefined, "the failed write is not served");
    assert.equal((await graph.upsertNode({ ...T("boom"), properties: {} })).created, true);
  },
);

Deno.test(
  "sqlite graph: writes arriving together share one commit and all resolve",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    await using graph = await open(tmp.file);

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => graph.upsertNode({ ...T(`n${i}`), properties: { i } })),
    );

    assert.ok(results.every((result) => result.created));
    assert.equal(count(tmp.file, "SELECT count(*) AS n FROM nodes"), 50);
  },
);

Deno.test(
  "sqlite graph plugin: keeps <instance>.db under server.dataDir across restarts",
  SANITIZED,
  async () => {
    using tmp = tempFile();
    const registry = new Map([["graph", graphPlugin]]);
    const yaml = configYaml({ deps: { type: "graph", backend: "sqlite" } }, {
      server: { dataDir: tmp.dir },
    });
    const body = JSON.stringify({ title: "Login" });
    {
      await using app = await openApp(yaml, registry);
      const response = await app.request("/v1/deps/nodes/Feature/login", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body,
      });
      assert.equal(response.status, 201, await response.text());
    }
    assert.ok(Deno.statSync(join(tmp.dir, "deps.db")).isFile);

    await using app = await openApp(yaml, registry);
    const response = await app.request("/v1/deps/nodes/Feature/login");

    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()).properties, { title: "Login" });
  },
);
