/**
 * Specification of the graph plugin's HTTP API, through the real app (`createApp`) with no
 * network: status codes, problem+json codes and fields, all-or-nothing batches, Cypher injection
 * attempts through every route, and `/cypher` (off by default; read-only when on, on Neo4j).
 */
import assert from "node:assert/strict";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { servicesRequired, unreachable } from "../contract/_services.ts";
import {
  configYaml,
  openApp,
  problemOf,
  type RunningApp,
  SANITIZED,
  stateOf,
  waitFor,
} from "../_helpers.ts";

const registry = new Map([["graph", graphPlugin]]);

const GRAPH = {
  backend: "memory",
  labels: ["Feature", "WorkPackage", "Artifact"],
  relationships: ["DEPENDS_ON", "BLOCKS", "RELATES_TO", "DEFINES"],
  maxDepth: 5,
  maxBatchSize: 10,
  maxResults: 50,
};

/** The graph plugin on the memory backend, as instance `graph`, with `extra` config on top. */
function open(extra: Record<string, unknown> = {}): Promise<RunningApp> {
  return openApp(configYaml({ graph: { ...GRAPH, ...extra } }), registry);
}

function send(method: string, body?: unknown): RequestInit {
  return body === undefined ? { method } : {
    method,
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

/** Sends a request and reads its body (every body is consumed, for the sanitizers). */
async function call(
  app: RunningApp,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await app.request(`/v1/graph${path}`, send(method, body));
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : {},
    headers: response.headers,
  };
}

/** Asserts a problem response: status, code and (when given) the field it names. */
async function expectProblem(
  app: RunningApp,
  method: string,
  path: string,
  body: unknown,
  expected: { status: number; code: string; field?: string | undefined },
): Promise<Record<string, unknown>> {
  const response = await app.request(`/v1/graph${path}`, send(method, body));
  const problem = await problemOf(response);
  assert.equal(response.status, expected.status, `${method} ${path}: ${JSON.stringify(problem)}`);
  assert.equal(problem.code, expected.code, `${method} ${path}: ${JSON.stringify(problem)}`);
  if (expected.field !== undefined) assert.equal(problem.field, expected.field);
  return problem;
}

/** Builds a -> b -> c (DEPENDS_ON) between Features, plus a WorkPackage w that BLOCKS a. */
async function seed(app: RunningApp): Promise<void> {
  const r = await call(app, "POST", "/batch", {
    items: [
      { op: "node", label: "Feature", id: "a", properties: { title: "A" } },
      { op: "node", label: "Feature", id: "b", properties: { title: "B" } },
      { op: "node", label: "Feature", id: "c", properties: { title: "C" } },
      { op: "node", label: "WorkPackage", id: "w", properties: { points: 3 } },
      { op: "edge", from: ref("a"), type: "DEPENDS_ON", to: ref("b") },
      { op: "edge", from: ref("b"), type: "DEPENDS_ON", to: ref("c") },
      { op: "edge", from: { label: "WorkPackage", id: "w" }, type: "BLOCKS", to: ref("a") },
    ],
  });
  assert.equal(r.status, 200);
}

function ref(id: string) {
  return { label: "Feature", id };
}

/** Every node and relationship, as comparable text, for "nothing changed" checks. */
async function snapshot(app: RunningApp): Promise<string[]> {
  const lines: string[] = [];
  for (const label of GRAPH.labels) {
    const { body } = await call(app, "GET", `/nodes/${label}?limit=1000`);
    for (const node of body.nodes as { label: string; id: string; properties: unknown }[]) {
      lines.push(`${node.label}:${node.id} ${JSON.stringify(node.properties)}`);
      const around = await call(app, "GET", `/nodes/${label}/${node.id}/neighbors?direction=out`);
      for (const n of around.body.neighbors as { label: string; id: string }[]) {
        lines.push(`${node.label}:${node.id} -> ${n.label}:${n.id}`);
      }
    }
  }
  return lines.sort();
}

// --- nodes -------------------------------------------------------------------------------------

Deno.test("PUT a node answers 201, then 200 with the same node", SANITIZED, async () => {
  await using app = await open();
  const props = { title: "Login", points: 3, big: 2 ** 40, ratio: 0.5, done: false, tags: ["a"] };

  const first = await call(app, "PUT", "/nodes/Feature/login", props);
  const second = await call(app, "PUT", "/nodes/Feature/login", props);
  const read = await call(app, "GET", "/nodes/Feature/login");

  assert.equal(first.status, 201);
  assert.equal(second.status, 200);
  assert.deepEqual(read.body, {
    label: "Feature",
    labels: ["Feature"],
    id: "login",
    properties: props,
  });
});

Deno.test(
  "a label that is not allowed or not an identifier is 400 naming path.label",
  SANITIZED,
  async () => {
    await using app = await open();
    for (const label of ["Person", "Feature%60)%20DETACH%20DELETE%20n", "1Feature", "Feat-ure"]) {
      await expectProblem(app, "PUT", `/nodes/${label}/x`, {}, {
        status: 400,
        code: "core.validation_failed",
        field: "path.label",
      });
      await expectProblem(app, "GET", `/nodes/${label}/x`, undefined, {
        status: 400,
        code: "core.validation_failed",
        field: "path.label",
      });
    }
  },
);

Deno.test("a bad node id is 400 naming path.id", SANITIZED, async () => {
  await using app = await open({ maxIdLength: 8 });
  for (const id of ["a%20b", "x'y", "x%22y", "toolong123", "a%0Ab"]) {
    await expectProblem(app, "PUT", `/nodes/Feature/${id}`, {}, {
      status: 400,
      code: "core.validation_failed",
      field: "path.id",
    });
  }
});

Deno.test("bad properties are 400 naming the property", SANITIZED, async () => {
  await using app = await open({ maxProperties: 3, maxStringLength: 5 });
  const cases: [unknown, string][] = [
    [{ "x}) DETACH DELETE n //": 1 }, "body.x}) DETACH DELETE n //"],
    [{ "`key`": 1 }, "body.`key`"],
    [{ id: "other" }, "body.id"],
    [{ nested: { a: 1 } }, "body.nested"],
    [{ nothing: null }, "body.nothing"],
    [{ mixed: [1, "a"] }, "body.mixed.1"],
    [{ long: "123456" }, "body.long"],
  ];
  for (const [body, field] of cases) {
    await expectProblem(app, "PUT", "/nodes/Feature/a", body, {
      status: 400,
      code: "core.validation_failed",
      field,
    });
  }
  await expectProblem(app, "PUT", "/nodes/Feature/a", { a: 1, b: 2, c: 3, d: 4 }, {
    status: 400,
    code: "core.validation_failed",
    field: "body",
  });
  await expectProblem(app, "PUT", "/nodes/Feature/a", [1, 2], {
    status: 400,
    code: "core.validation_failed",
  });
  assert.equal((await call(app, "GET", "/nodes/Feature/a")).status, 404);
});

Deno.test("typed values travel as one-key objects and read back the same", SANITIZED, async () => {
  await using app = await open();
  const props = {
    huge: { $int: "9007199254740993" },
    two: { $float: "2" },
    day: { $date: "2026-12-05" },
    at: { $datetime: "2026-12-05T12:00:00.123456789+01:00[Europe/Paris]" },
    span: { $duration: "P1DT2H" },
    place: { $point: { srid: 4326, x: 2.35, y: 48.85 } },
    blob: { $bytes: "AAEC/w==" },
    ints: [1, { $int: "-9007199254740993" }],
  };

  const put = await call(app, "PUT", "/nodes/Feature/typed", props);
  const read = await call(app, "GET", "/nodes/Feature/typed");

  assert.equal(put.status, 201);
  assert.deepEqual(read.body.properties, props);
});

Deno.test("a value that cannot be kept exactly is 400 naming the field", SANITIZED, async () => {
  await using app = await open();
  const cases: [string, string][] = [
    ['{"big": 9007199254740993}', "body.big"],
    ['{"huge": 1e300}', "body.huge"],
    ['{"small": {"$int": "42"}}', "body.small"],
    ['{"lead": {"$int": "09007199254740993"}}', "body.lead"],
    ['{"wide": {"$int": "9223372036854775808"}}', "body.wide"],
    ['{"frac": {"$float": "2.5"}}', "body.frac"],
    ['{"spelled": {"$float": "2.0"}}', "body.spelled"],
    ['{"day": {"$date": "2026-02-30"}}', "body.day"],
    ['{"day": {"$date": "2026-12-5"}}', "body.day"],
    ['{"at": {"$datetime": "2026-12-05T12:00:00.000Z"}}', "body.at"],
    ['{"at": {"$datetime": "2026-12-05T12:00:00+05:00[Europe/Paris]"}}', "body.at"],
    ['{"at": {"$datetime": "2026-12-05T12:00:00+01:00[Nowhere/Atlantis]"}}', "body.at"],
    ['{"span": {"$duration": "P0DT2H"}}', "body.span"],
    ['{"place": {"$point": {"srid": 4326, "x": 200, "y": 0}}}', "body.place"],
    ['{"place": {"$point": {"srid": 1, "x": 0, "y": 0}}}', "body.place"],
    ['{"place": {"$point": {"srid": 9157, "x": 0, "y": 0}}}', "body.place"],
    ['{"blob": {"$bytes": "AAEC/w"}}', "body.blob"],
    ['{"two": {"$date": "2026-12-05", "$int": "1"}}', "body.two"],
    ['{"what": {"$uuid": "x"}}', "body.what"],
    ['{"list": [1, {"$float": "2"}]}', "body.list.0"],
    ['{"list": [{"$date": "2026-12-05"}, "2026-12-05"]}', "body.list.1"],
    ['{"list": [{"$bytes": "AA=="}]}', "body.list.0"],
    ['{"list": [[1]]}', "body.list.0"],
  ];
  for (const [body, field] of cases) {
    const response = await app.request("/v1/graph/nodes/Feature/a", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body,
    });
    const problem = await problemOf(response);
    assert.equal(response.status, 400, body);
    assert.equal(problem.field, field, body);
  }
  assert.equal((await call(app, "GET", "/nodes/Feature/a")).status, 404);
});

Deno.test("GET a missing node is 404 graph.node_not_found", SANITIZED, async () => {
  await using app = await open();
  await expectProblem(app, "GET", "/nodes/Feature/ghost", undefined, {
    status: 404,
    code: "graph.node_not_found",
  });
});

Deno.test("DELETE a node answers 204 and detaches it; again it is 404", SANITIZED, async () => {
  await using app = await open();
  await seed(app);

  const deleted = await call(app, "DELETE", "/nodes/Feature/b");

  assert.equal(deleted.status, 204);
  const around = await call(app, "GET", "/nodes/Feature/a/neighbors?direction=both&depth=3");
  assert.deepEqual((around.body.neighbors as { id: string }[]).map((n) => n.id), ["w"]);
  await expectProblem(app, "DELETE", "/nodes/Feature/b", undefined, {
    status: 404,
    code: "graph.node_not_found",
  });
});

Deno.test(
  "GET /nodes/{label} filters with where[prop] and pages with an opaque cursor, null at the end",
  SANITIZED,
  async () => {
    await using app = await open();
    for (const [id, status] of [["w1", "open"], ["w2", "done"], ["w3", "open"], ["w4", "open"]]) {
      await call(app, "PUT", `/nodes/WorkPackage/${id}`, { status, points: 2 });
    }

    const first = await call(
      app,
      "GET",
      "/nodes/WorkPackage?where[status]=open&where[points]=2&limit=2",
    );
    const cursor = first.body.cursor as string;
    const next = await call(
      app,
      "GET",
      `/nodes/WorkPackage?where[status]=open&limit=2&cursor=${encodeURIComponent(cursor)}`,
    );

    assert.deepEqual((first.body.nodes as { id: string }[]).map((n) => n.id), ["w1", "w3"]);
    assert.equal(typeof cursor, "string");
    assert.ok(!cursor.includes("w3"), "the cursor is opaque");
    assert.deepEqual((next.body.nodes as { id: string }[]).map((n) => n.id), ["w4"]);
    assert.equal(next.body.cursor, null);
  },
);

Deno.test("a listing with nothing after it answers cursor null", SANITIZED, async () => {
  await using app = await open();
  const empty = await call(app, "GET", "/nodes/Artifact");
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, { nodes: [], cursor: null });
});

Deno.test(
  "a cursor that is malformed, from another label or too long is 400 graph.cursor_invalid",
  SANITIZED,
  async () => {
    await using app = await open();
    for (const id of ["a", "b", "c"]) await call(app, "PUT", `/nodes/Feature/${id}`, {});
    const { body } = await call(app, "GET", "/nodes/Feature?limit=1");
    const cursor = encodeURIComponent(body.cursor as string);
    const refused = { status: 400, code: "graph.cursor_invalid", field: "query.cursor" };

    await expectProblem(app, "GET", "/nodes/Feature?cursor=not-a-cursor", undefined, refused);
    await expectProblem(app, "GET", "/nodes/Feature?cursor=", undefined, refused);
    await expectProblem(app, "GET", `/nodes/WorkPackage?cursor=${cursor}`, undefined, refused);
    await expectProblem(
      app,
      "GET",
      `/nodes/Feature?cursor=${"A".repeat(5_000)}`,
      undefined,
      refused,
    );
  },
);

Deno.test("a bad listing filter or parameter is 400 naming it", SANITIZED, async () => {
  await using app = await open({ maxPageSize: 20 });
  await expectProblem(app, "GET", "/nodes/Feature?where[a)%20OR%201%3D1%20//]=x", undefined, {
    status: 400,
    code: "core.validation_failed",
    field: "query.where[a) OR 1=1 //]",
  });
  await expectProblem(app, "GET", "/nodes/Feature?sort=id", undefined, {
    status: 400,
    code: "core.validation_failed",
    field: "query.sort",
  });
  await expectProblem(app, "GET", "/nodes/Feature?limit=21", undefined, {
    status: 400,
    code: "core.validation_failed",
    field: "query.limit",
  });
  await expectProblem(app, "GET", "/nodes/Feature?where[a]=1&where[a]=2", undefined, {
    status: 400,
    code: "core.validation_failed",
    field: "query.where[a]",
  });
});

// --- edges -------------------------------------------------------------------------------------

Deno.test(
  "PUT /edges answers 201, then 200 when it updates the relationship",
  SANITIZED,
  async () => {
    await using app = await open();
    await seed(app);
    const edge = { from: ref("a"), type: "RELATES_TO", to: ref("c") };

    const first = await call(app, "PUT", "/edges", { ...edge, properties: { why: "x" } });
    const second = await call(app, "PUT", "/edges", { ...edge, properties: { why: "y" } });

    assert.equal(first.status, 201);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, { ...edge, properties: { why: "y" } });
  },
);

Deno.test("PUT /edges to a missing node is 404 naming body.to", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  await expectProblem(app, "PUT", "/edges", {
    from: ref("a"),
    type: "DEPENDS_ON",
    to: ref("ghost"),
  }, { status: 404, code: "graph.node_not_found", field: "body.to" });
});

Deno.test("PUT /edges with a bad type is 400 naming body.type", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  for (const type of ["LIKES", "DEPENDS_ON]->(x) DETACH DELETE x //", "depends on", ""]) {
    await expectProblem(app, "PUT", "/edges", { from: ref("a"), type, to: ref("b") }, {
      status: 400,
      code: "core.validation_failed",
      field: "body.type",
    });
  }
});

Deno.test("rejectCycle: an edge closing a cycle is 409 naming the cycle", SANITIZED, async () => {
  await using app = await open();
  await seed(app);

  const problem = await expectProblem(app, "PUT", "/edges", {
    from: ref("c"),
    type: "DEPENDS_ON",
    to: ref("a"),
    rejectCycle: true,
  }, { status: 409, code: "graph.cycle_rejected" });

  assert.deepEqual(problem.cycle, [ref("c"), ref("a"), ref("b"), ref("c")]);
  assert.match(String(problem.detail), /Feature:c -> Feature:a -> Feature:b -> Feature:c/);
  const cycles = await call(app, "GET", "/cycles?type=DEPENDS_ON");
  assert.deepEqual(cycles.body.cycles, []);
});

Deno.test("DELETE /edges answers 204, then 404 graph.edge_not_found", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  const key = { from: ref("a"), type: "DEPENDS_ON", to: ref("b") };

  assert.equal((await call(app, "DELETE", "/edges", key)).status, 204);
  await expectProblem(app, "DELETE", "/edges", key, { status: 404, code: "graph.edge_not_found" });
});

// --- traversals ----------------------------------------------------------------------------------

Deno.test("neighbors answers nodes within depth with their distance", SANITIZED, async () => {
  await using app = await open();
  await seed(app);

  const out = await call(app, "GET", "/nodes/Feature/a/neighbors?direction=out&depth=2");
  const any = await call(app, "GET", "/nodes/Feature/a/neighbors?direction=both&type=BLOCKS");

  assert.equal(out.status, 200);
  assert.deepEqual(
    (out.body.neighbors as { id: string; distance: number }[]).map((n) => [n.id, n.distance]),
    [["b", 1], ["c", 2]],
  );
  assert.deepEqual(any.body.neighbors, [
    {
      label: "WorkPackage",
      labels: ["WorkPackage"],
      id: "w",
      properties: { points: 3 },
      distance: 1,
    },
  ]);
});

Deno.test("neighbors with a bad depth, direction or type is 400 naming it", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  for (
    const [query, field] of [
      ["depth=0", "query.depth"],
      ["depth=6", "query.depth"],
      ["depth=two", "query.depth"],
      ["depth=1.5", "query.depth"],
      ["direction=sideways", "query.direction"],
      ["type=DEPENDS_ON*1..100", "query.type"],
      ["unknown=1", "query"],
    ]
  ) {
    await expectProblem(app, "GET", `/nodes/Feature/a/neighbors?${query}`, undefined, {
      status: 400,
      code: "core.validation_failed",
      field,
    });
  }
});

Deno.test("neighbors of a missing node is 404", SANITIZED, async () => {
  await using app = await open();
  await expectProblem(app, "GET", "/nodes/Feature/ghost/neighbors", undefined, {
    status: 404,
    code: "graph.node_not_found",
  });
});

Deno.test("path answers the nodes and relationships in order", SANITIZED, async () => {
  await using app = await open();
  await seed(app);

  const path = await call(app, "GET", "/path?from=WorkPackage:w&to=Feature:c");

  assert.equal(path.status, 200);
  assert.equal(path.body.length, 3);
  assert.deepEqual(
    (path.body.nodes as { label: string; id: string }[]).map((n) => `${n.label}:${n.id}`),
    ["WorkPackage:w", "Feature:a", "Feature:b", "Feature:c"],
  );
  assert.deepEqual(
    (path.body.relationships as { type: string }[]).map((r) => r.type),
    ["BLOCKS", "DEPENDS_ON", "DEPENDS_ON"],
  );
});

Deno.test("path with no route is 404 graph.path_not_found", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  await expectProblem(app, "GET", "/path?from=Feature:c&to=Feature:a", undefined, {
    status: 404,
    code: "graph.path_not_found",
  });
  await expectProblem(app, "GET", "/path?from=WorkPackage:w&to=Feature:c&maxDepth=2", undefined, {
    status: 404,
    code: "graph.path_not_found",
  });
});

Deno.test("path from a missing node is 404 naming query.from", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  await expectProblem(app, "GET", "/path?from=Feature:ghost&to=Feature:a", undefined, {
    status: 404,
    code: "graph.node_not_found",
    field: "query.from",
  });
});

Deno.test("path with a malformed end or depth is 400 naming it", SANITIZED, async () => {
  await using app = await open();
  for (
    const [query, field] of [
      ["from=Feature&to=Feature:a", "query.from"],
      ["from=Feature:a&to=Person:b", "query.to"],
      ["from=Feature:a&to=Feature:b&maxDepth=99", "query.maxDepth"],
      ["to=Feature:b", "query.from"],
    ]
  ) {
    await expectProblem(app, "GET", `/path?${query}`, undefined, {
      status: 400,
      code: "core.validation_failed",
      field,
    });
  }
});

Deno.test("cycles lists each cycle closed; type is required", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  await call(app, "PUT", "/edges", { from: ref("c"), type: "DEPENDS_ON", to: ref("a") });

  const cycles = await call(app, "GET", "/cycles?type=DEPENDS_ON");

  assert.deepEqual(cycles.body.cycles, [
    { length: 3, nodes: [ref("a"), ref("b"), ref("c"), ref("a")] },
  ]);
  await expectProblem(app, "GET", "/cycles", undefined, {
    status: 400,
    code: "core.validation_failed",
    field: "query.type",
  });
});

// --- batches -----------------------------------------------------------------------------------

Deno.test("a batch answers what it created and updated", SANITIZED, async () => {
  await using app = await open();
  await seed(app);

  const result = await call(app, "POST", "/batch", {
    items: [
      { op: "node", label: "Artifact", id: "spec", properties: {} },
      { op: "node", label: "Feature", id: "a", properties: { title: "A2" } },
      { op: "edge", from: { label: "Artifact", id: "spec" }, type: "DEFINES", to: ref("a") },
    ],
  });

  assert.equal(result.status, 200);
  assert.deepEqual(result.body.nodes, { created: 1, updated: 1 });
  assert.deepEqual(result.body.edges, { created: 1, updated: 0 });
});

Deno.test("a batch with one bad item writes nothing and names the item", SANITIZED, async () => {
  await using app = await open();
  await seed(app);
  const before = await snapshot(app);
  const good = [
    { op: "node", label: "Feature", id: "new", properties: {} },
    { op: "node", label: "Feature", id: "a", properties: { title: "changed" } },
    { op: "edge", from: ref("new"), type: "DEPENDS_ON", to: ref("a") },
  ];

  await expectProblem(app, "POST", "/batch", {
    items: [...good, { op: "edge", from: ref("new"), type: "DEPENDS_ON", to: ref("ghost") }],
  }, { status: 404, code: "graph.node_not_found", field: "body.items.3.to" });
  await expectProblem(app, "POST", "/batch", {
    items: [...good, { op: "node", label: "Person", id: "p", properties: {} }],
  }, { status: 400, code: "core.validation_failed", field: "body.items.3.label" });
  await expectProblem(app, "POST", "/batch", {
    items: [...good, {
      op: "edge",
      from: ref("c"),
      type: "DEPENDS_ON",
      to: ref("new"),
      rejectCycle: true,
    }],
  }, { status: 409, code: "graph.cycle_rejected" });

  assert.deepEqual(await snapshot(app), before);
});

Deno.test("a batch past maxBatchSize is 400 naming body.items", SANITIZED, async () => {
  await using app = await open();
  const items = Array.from({ length: 11 }, (_, i) => ({
    op: "node",
    label: "Feature",
    id: `n${i}`,
    properties: {},
  }));
  await expectProblem(app, "POST", "/batch", { items }, {
    status: 400,
    code: "core.validation_failed",
    field: "body.items",
  });
});

// --- safety ------------------------------------------------------------------------------------

Deno.test(
  "injection attempts through every route are refused and change nothing",
  SANITIZED,
  async () => {
    await using app = await open();
    await seed(app);
    const before = await snapshot(app);
    const evil = [
      "Feature) DETACH DELETE (n",
      "Feature`) MATCH (m) DETACH DELETE m //",
      "Feature:WorkPackage",
      "Feature {id: 'a'}",
      "DEPENDS_ON|BLOCKS",
      "DEPENDS_ON*1..1000",
    ];
    const attempts: [string, string, unknown][] = [];
    for (const bad of evil) {
      const seg = encodeURIComponent(bad);
      attempts.push(
        ["PUT", `/nodes/${seg}/x`, {}],
        ["GET", `/nodes/${seg}/a`, undefined],
        ["DELETE", `/nodes/${seg}/a`, undefined],
        ["GET", `/nodes/${seg}`, undefined],
        ["GET", `/nodes/${seg}/a/neighbors`, undefined],
        ["GET", `/nodes/Feature/a/neighbors?type=${seg}`, undefined],
        ["GET", `/nodes/Feature?where[${seg}]=1`, undefined],
        ["PUT", "/nodes/Feature/a", { [bad]: "x" }],
        ["PUT", "/edges", { from: { label: bad, id: "a" }, type: "DEPENDS_ON", to: ref("b") }],
        ["PUT", "/edges", { from: ref("a"), type: bad, to: ref("b") }],
        ["PUT", "/edges", {
          from: ref("a"),
          type: "DEPENDS_ON",
          to: ref("b"),
          properties: { [bad]: 1 },
        }],
        ["DELETE", "/edges", { from: ref("a"), type: bad, to: ref("b") }],
        // `Label:id` splits at the first colon: "Feature:WorkPackage:a" is label Feature, id
        // "WorkPackage:a" (a valid id), which is simply not found; every other one is a 400.
        ...(bad.includes(":") ? [] : [["GET", `/path?from=${seg}:a&to=Feature:b`, undefined]] as [
          string,
          string,
          unknown,
        ][]),
        ["GET", `/path?from=Feature:a&to=Feature:b&type=${seg}`, undefined],
        ["GET", `/cycles?type=${seg}`, undefined],
        ["POST", "/batch", { items: [{ op: "node", label: bad, id: "x", properties: {} }] }],
        ["POST", "/batch", {
          items: [{ op: "edge", from: ref("a"), type: bad, to: ref("b") }],
        }],
      );
    }
    attempts.push(["PUT", `/nodes/Feature/${encodeURIComponent("a'}) DETACH DELETE n //")}`, {}]);

    for (const [method, path, body] of attempts) {
      const response = await app.request(`/v1/graph${path}`, send(method, body));
      const problem = await problemOf(response);
      assert.equal(response.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      assert.equal(problem.code, "core.validation_failed", `${method} ${path}`);
    }
    assert.deepEqual(await snapshot(app), before);
  },
);

Deno.test("/cypher is off by default: 403 graph.cypher_disabled", SANITIZED, async () => {
  await using app = await open();
  await expectProblem(app, "POST", "/cypher", { query: "MATCH (n) RETURN n" }, {
    status: 403,
    code: "graph.cypher_disabled",
  });
});

Deno.test("allowCypher is refused on the memory backend", SANITIZED, async () => {
  await assert.rejects(open({ allowCypher: true }), /allowCypher/);
});

Deno.test("the OpenAPI document lists the graph routes", SANITIZED, async () => {
  await using app = await open();
  const response = await app.request("/openapi.json");
  const doc = await response.json();
  for (
    const path of [
      "/v1/graph/nodes/{label}/{id}",
      "/v1/graph/nodes/{label}/{id}/neighbors",
      "/v1/graph/edges",
      "/v1/graph/path",
      "/v1/graph/cycles",
      "/v1/graph/batch",
      "/v1/graph/cypher",
    ]
  ) {
    assert.ok(doc.paths[path], `${path} is documented`);
  }
});

// --- neo4j -------------------------------------------------------------------------------------

const NEO4J_URL = Deno.env.get("NEO4J_URL") ?? "bolt://127.0.0.1:7687";
const NEO4J = {
  backend: "neo4j",
  url: NEO4J_URL,
  user: Deno.env.get("NEO4J_USER") ?? "neo4j",
  password: Deno.env.get("NEO4J_PASSWORD") ?? "edgebox-local",
  connectionTimeout: "2s",
  maxRetryTime: "1s",
  timeouts: { start: "10s", ready: "3s", stop: "5s" },
};

/** A port nothing listens on. */
function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test(
  "an optional neo4j graph whose server is down answers 503 with Retry-After",
  SANITIZED,
  async () => {
    await using app = await openApp(
      configYaml({
        graph: {
          ...GRAPH,
          ...NEO4J,
          url: `bolt://127.0.0.1:${deadPort()}`,
          required: false,
          reconnect: { initialDelay: "1s", maxDelay: "2s" },
        },
      }),
      registry,
    );

    const response = await app.request("/v1/graph/nodes/Feature/a");
    const problem = await problemOf(response);

    assert.equal(response.status, 503);
    assert.equal(problem.code, "core.plugin_unavailable");
    assert.ok(Number(response.headers.get("retry-after")) >= 1);
    assert.equal(stateOf(app, "graph"), "degraded");
  },
);

const neo4jReason = await unreachable(NEO4J_URL, 7687);

/** A test that needs Neo4j: ignored when it is unreachable, failing if CI requires services. */
function neo4jTest(name: string, fn: () => Promise<void>): void {
  if (neo4jReason === undefined) return Deno.test({ name, ...SANITIZED, fn });
  if (servicesRequired) {
    return Deno.test(`${name} (neo4j required at ${NEO4J_URL})`, () => {
      throw new Error(`neo4j is required but unreachable at ${NEO4J_URL}: ${neo4jReason}`);
    });
  }
  Deno.test({ name: `${name} (ignored: neo4j unreachable: ${neo4jReason})`, ignore: true, fn });
}

/** A unique label for this run, so a shared database never mixes runs. */
function runLabel(): string {
  return `Route_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

neo4jTest("neo4j: /cypher stays off unless allowCypher is set", async () => {
  await using app = await openApp(
    configYaml({ graph: { ...NEO4J, backend: "neo4j" } }),
    registry,
  );
  await expectProblem(app, "POST", "/cypher", { query: "RETURN 1 AS one" }, {
    status: 403,
    code: "graph.cypher_disabled",
  });
});

neo4jTest("neo4j: with allowCypher, /cypher reads and refuses writes", async () => {
  const label = runLabel();
  await using app = await openApp(
    configYaml({ graph: { ...NEO4J, allowCypher: true, labels: [label] } }),
    registry,
  );
  try {
    assert.equal((await call(app, "PUT", `/nodes/${label}/a`, { n: 1 })).status, 201);

    const read = await call(app, "POST", "/cypher", {
      query: `MATCH (n:${label} {id: $id}) RETURN n.n AS n`,
      params: { id: "a" },
    });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.rows, [{ n: 1 }]);

    await expectProblem(app, "POST", "/cypher", {
      query: `MATCH (n:${label}) DETACH DELETE n`,
    }, { status: 400, code: "graph.cypher_write_rejected", field: "body.query" });
    await expectProblem(app, "POST", "/cypher", { query: "MATCH (n RETURN n" }, {
      status: 400,
      code: "graph.cypher_invalid",
      field: "body.query",
    });
    assert.equal((await call(app, "GET", `/nodes/${label}/a`)).status, 200);
  } finally {
    await call(app, "DELETE", `/nodes/${label}/a`);
    await app.lifecycle.stop();
    await dropConstraint(label);
  }
});

neo4jTest(
  "neo4j: a backend lost mid-run answers 503 graph.unavailable, then recovers",
  async () => {
    const label = runLabel();
    await using proxy = tcpProxy(NEO4J_URL);
    await using app = await openApp(
      configYaml({
        graph: {
          ...NEO4J,
          url: `bolt://127.0.0.1:${proxy.port}`,
          labels: [label],
          healthInterval: "60s",
        },
      }),
      registry,
    );
    try {
      assert.equal((await call(app, "PUT", `/nodes/${label}/a`, {})).status, 201);
      proxy.cut();

      const down = await app.request(`/v1/graph/nodes/${label}/a`);
      const problem = await problemOf(down);

      assert.equal(down.status, 503);
      assert.equal(problem.code, "graph.unavailable");
      assert.equal(down.headers.get("retry-after"), "1");

      proxy.restore();
      await waitFor(
        async () => (await call(app, "GET", `/nodes/${label}/a`)).status === 200,
        "recovery",
      );
    } finally {
      proxy.restore();
      await call(app, "DELETE", `/nodes/${label}/a`);
      await app.lifecycle.stop();
      await dropConstraint(label);
    }
  },
);

/** Drops the id constraint the driver created for a per-run label. */
async function dropConstraint(label: string): Promise<void> {
  const { default: neo4j } = await import("neo4j-driver");
  const driver = neo4j.driver(NEO4J_URL, neo4j.auth.basic(NEO4J.user, NEO4J.password));
  try {
    await driver.executeQuery(`DROP CONSTRAINT edgebox_${label}_id IF EXISTS`);
  } finally {
    await driver.close();
  }
}

/** A TCP proxy to the Bolt server that can drop every connection and refuse new ones. */
function tcpProxy(target: string) {
  const url = new URL(target.replace(/^[a-z+]+:/, "http:"));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  let up = true;
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // A cut connection ends its pipes with an error; the proxy only cares that they end.
    }
  };
  const serving = (async () => {
    for await (const client of listener) {
      if (!up) {
        client.close();
        continue;
      }
      const server = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 7687) });
      open.add(client);
      open.add(server);
      Promise.all([pipe(client, server), pipe(server, client)]).finally(() => {
        open.delete(client);
        open.delete(server);
      });
    }
  })();
  return {
    port,
    cut() {
      up = false;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed by its pipe.
        }
      }
    },
    restore() {
      up = true;
    },
    async [Symbol.asyncDispose]() {
      this.cut();
      listener.close();
      await serving.catch(() => undefined);
    },
  };
}
