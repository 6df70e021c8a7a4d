/**
 * The graph contract: what every graph driver must do, written once and run against each (the
 * in-memory graph always, Neo4j when it is reachable). Every test works under labels and
 * relationship types of its own (a random suffix), so runs against a shared database never see
 * each other, and it purges what it wrote when it ends.
 */
import assert from "node:assert/strict";
import type { EdgeboxError } from "../../core/errors.ts";
import type {
  BatchItem,
  GraphDriver,
  GraphFeature,
  GraphLimits,
  NodeRef,
  RefView,
} from "../../plugins/graph/driver.ts";
import { SANITIZED } from "../_helpers.ts";

/** How the suite reaches one driver. */
export interface GraphContractTarget {
  /** Shown in test names: `memory`, `neo4j`. */
  name: string;
  /** The features its driver declares (read from an unconnected instance): which blocks run. */
  features: ReadonlySet<GraphFeature>;
  /** A connected driver with these allowlists and limits. */
  open(limits: GraphLimits): Promise<GraphDriver>;
  /** Removes what a test wrote under these labels and types (a real backend is shared). */
  purge?(labels: readonly string[], types: readonly string[]): Promise<void>;
}

/** One test's driver, with labels and types no other test or run uses. */
interface Fixture extends AsyncDisposable {
  g: GraphDriver;
  /** Labels: Feature, Work, Artifact (suffixed). */
  L: { Feature: string; Work: string; Artifact: string };
  /** Types: DEPENDS_ON, BLOCKS (suffixed). */
  T: { DEPENDS_ON: string; BLOCKS: string };
  /** A node ref under the Feature label. */
  f(id: string): NodeRef;
}

/** What a test may loosen: no label allowlist, no type allowlist. */
interface FixtureOptions {
  anyLabel?: boolean;
  anyType?: boolean;
}

/** Registers the whole suite against `target`; a feature's block runs only where declared. */
export function runGraphContract(target: GraphContractTarget): void {
  const declared = target.features;

  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`graph contract (${target.name}): ${name}`, SANITIZED, fn);

  async function fixture(options: FixtureOptions = {}): Promise<Fixture> {
    const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    const L = { Feature: `Feature_${suffix}`, Work: `Work_${suffix}`, Artifact: `Art_${suffix}` };
    const T = { DEPENDS_ON: `DEPENDS_ON_${suffix}`, BLOCKS: `BLOCKS_${suffix}` };
    const g = await target.open({
      ...(options.anyLabel ? {} : { labels: Object.values(L) }),
      ...(options.anyType ? {} : { relationships: Object.values(T) }),
      cycleCheckDepth: 1_000,
    });
    return {
      g,
      L,
      T,
      f: (id) => ({ label: L.Feature, id }),
      async [Symbol.asyncDispose]() {
        try {
          await target.purge?.(Object.values(L), Object.values(T));
        } finally {
          await g.close();
        }
      },
    };
  }

  /** Creates Feature nodes with these ids. */
  async function features(x: Fixture, ...ids: string[]): Promise<void> {
    await x.g.batch(ids.map((id) => ({ op: "node", label: x.L.Feature, id, properties: {} })));
  }

  /** Creates DEPENDS_ON edges between Feature nodes: `["a", "b"]` is a -> b. */
  async function depends(x: Fixture, ...pairs: [string, string][]): Promise<void> {
    await x.g.batch(pairs.map(([from, to]) => ({
      op: "edge",
      from: x.f(from),
      type: x.T.DEPENDS_ON,
      to: x.f(to),
    })));
  }

  async function rejects(work: Promise<unknown>, code: string): Promise<EdgeboxError> {
    let caught: unknown;
    await work.then(
      () => assert.fail(`expected ${code}, but it succeeded`),
      (error) => caught = error,
    );
    assert.equal((caught as EdgeboxError).code, code, String(caught));
    return caught as EdgeboxError;
  }

  const ids = (nodes: readonly RefView[]) => nodes.map((n) => n.id);

  // --- lifecycle -----------------------------------------------------------------------------

  test("connect is idempotent and ping reports ready", async () => {
    await using x = await fixture();
    await x.g.connect();
    await x.g.connect();
    assert.equal((await x.g.ping()).status, "ready");
  });

  test("a second close keeps the driver closed: ping is down, operations unavailable", async () => {
    const x = await fixture();
    await x[Symbol.asyncDispose]();

    await x.g.close();

    assert.equal((await x.g.ping()).status, "down");
    await rejects(x.g.getNode(x.f("a")), "graph.unavailable");
    await rejects(x.g.upsertNode({ ...x.f("a"), properties: {} }), "graph.unavailable");
  });

  test("deleting a node twice answers true, then false, and the node stays gone", async () => {
    await using x = await fixture();
    await features(x, "a");

    assert.equal(await x.g.deleteNode(x.f("a")), true);
    assert.equal(await x.g.deleteNode(x.f("a")), false);

    assert.equal(await x.g.getNode(x.f("a")), undefined);
    assert.deepEqual((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes, []);
  });

  // --- nodes ---------------------------------------------------------------------------------

  test("an upsert creates a node, and the same upsert again only updates it", async () => {
    await using x = await fixture();
    const node = { ...x.f("login"), properties: { title: "Login" } };

    const first = await x.g.upsertNode(node);
    const second = await x.g.upsertNode(node);

    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.deepEqual(second.value, { ...node, labels: [x.L.Feature] });
    assert.deepEqual(await x.g.getNode(x.f("login")), { ...node, labels: [x.L.Feature] });
    assert.equal((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes.length, 1);
  });

  test("an upsert replaces the properties: keys left out are gone", async () => {
    await using x = await fixture();
    await x.g.upsertNode({ ...x.f("a"), properties: { title: "A", points: 3 } });

    await x.g.upsertNode({ ...x.f("a"), properties: { title: "A2" } });

    assert.deepEqual((await x.g.getNode(x.f("a")))?.properties, { title: "A2" });
  });

  test("property types round-trip: strings, big integers, floats, booleans, arrays", async () => {
    await using x = await fixture();
    const properties = {
      text: 'héllo ✓ "quoted" `tick` $param',
      empty: "",
      small: 42,
      negative: -7,
      beyond32: 2 ** 31 + 7,
      beyond40: -(2 ** 40) - 3,
      maxSafe: Number.MAX_SAFE_INTEGER,
      float: 3.25,
      tiny: 1e-9,
      yes: true,
      no: false,
      strings: ["a", "b c"],
      integers: [1, 2 ** 33],
      floats: [0.5, 1.5],
      booleans: [true, false],
    };
    await x.g.upsertNode({ ...x.f("types"), properties });

    const read = await x.g.getNode(x.f("types"));

    assert.deepEqual(read?.properties, properties);
    assert.equal(typeof read?.properties.beyond32, "number");
    assert.equal(typeof read?.properties.maxSafe, "number");
  });

  test("typed values round-trip exactly on nodes, relationships, listings and traversals", async () => {
    await using x = await fixture();
    const properties = {
      huge: { $int: "9007199254740993" },
      hugeNegative: { $int: "-9223372036854775808" },
      integralFloat: { $float: "2" },
      negativeZero: { $float: "-0" },
      notANumber: { $float: "NaN" },
      infinite: { $float: "-Infinity" },
      day: { $date: "2026-12-05" },
      farDay: { $date: "+012345-01-31" },
      at: { $datetime: "2026-12-05T12:00:00.123456789+01:00[Europe/Paris]" },
      atUtc: { $datetime: "2026-12-05T11:00:00Z" },
      atOffset: { $datetime: "2026-06-01T00:00:00-03:30" },
      wall: { $localdatetime: "2026-12-05T12:00:00" },
      noon: { $time: "12:00:01.500000000+01:00" },
      lunch: { $localtime: "12:30:00" },
      span: { $duration: "P1Y2M3DT4H5M6.700000000S" },
      backwards: { $duration: "PT-1.500000000S" },
      zero: { $duration: "PT0S" },
      place: { $point: { srid: 4326, x: 2.35, y: 48.85 } },
      box: { $point: { srid: 9157, x: 1, y: 2, z: 3 } },
      blob: { $bytes: "AAEC/w==" },
      emptyBlob: { $bytes: "" },
      bigs: [1, { $int: "9007199254740993" }],
      mixedFloats: [1.5, { $float: "2" }],
      days: [{ $date: "2020-01-01" }, { $date: "2020-02-29" }],
      places: [{ $point: { srid: 7203, x: 1, y: 2 } }, { $point: { srid: 7203, x: 3, y: 4.5 } }],
      plain: "2026-12-05",
    };
    await x.g.batch([
      { op: "node", ...x.f("typed"), properties },
      { op: "node", ...x.f("other"), properties: {} },
      {
        op: "edge",
        from: x.f("other"),
        type: x.T.DEPENDS_ON,
        to: x.f("typed"),
        properties: { since: { $date: "2024-02-29" }, weight: { $float: "1" } },
      },
    ]);

    const node = await x.g.getNode(x.f("typed"));
    const listed = (await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes.find((n) =>
      n.id === "typed"
    );
    const around = await x.g.neighbors(x.f("other"), { direction: "out", depth: 1, limit: 10 });
    const path = await x.g.shortestPath(x.f("other"), x.f("typed"), {
      direction: "out",
      maxDepth: 2,
    });

    assert.deepEqual(node?.properties, properties);
    assert.deepEqual(listed?.properties, properties);
    assert.deepEqual(around?.neighbors[0]?.properties, properties);
    assert.deepEqual(path?.relationships[0]?.properties, {
      since: { $date: "2024-02-29" },
      weight: { $float: "1" },
    });
  });

  test("a typed value read back and written again is unchanged", async () => {
    await using x = await fixture();
    await x.g.upsertNode({
      ...x.f("a"),
      properties: { n: { $int: "-9007199254740993" }, when: { $localtime: "00:00:00.000000001" } },
    });
    const read = await x.g.getNode(x.f("a"));

    await x.g.upsertNode({ ...x.f("a"), properties: { ...read!.properties, extra: true } });

    assert.deepEqual((await x.g.getNode(x.f("a")))?.properties, {
      n: { $int: "-9007199254740993" },
      when: { $localtime: "00:00:00.000000001" },
      extra: true,
    });
  });

  test("a node that does not exist reads as undefined", async () => {
    await using x = await fixture();
    assert.equal(await x.g.getNode(x.f("nobody")), undefined);
  });

  test("the same id under two labels is two nodes", async () => {
    await using x = await fixture();
    await x.g.upsertNode({ label: x.L.Feature, id: "same", properties: { kind: "feature" } });
    await x.g.upsertNode({ label: x.L.Work, id: "same", properties: { kind: "work" } });

    assert.equal(
      (await x.g.getNode({ label: x.L.Feature, id: "same" }))?.properties.kind,
      "feature",
    );
    assert.equal((await x.g.getNode({ label: x.L.Work, id: "same" }))?.properties.kind, "work");
  });

  test("deleting a node detaches its relationships", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "b"], ["b", "c"]);

    assert.equal(await x.g.deleteNode(x.f("b")), true);

    assert.equal(await x.g.getNode(x.f("b")), undefined);
    const fromA = await x.g.neighbors(x.f("a"), { direction: "both", depth: 3, limit: 10 });
    assert.deepEqual(fromA?.neighbors, []);
    assert.equal(
      await x.g.deleteEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") }),
      false,
    );
  });

  test("deleting a node that does not exist answers false", async () => {
    await using x = await fixture();
    assert.equal(await x.g.deleteNode(x.f("ghost")), false);
  });

  test("findNodes filters by equality; text matches the number or boolean it spells", async () => {
    await using x = await fixture();
    await x.g.batch([
      {
        op: "node",
        label: x.L.Work,
        id: "w1",
        properties: { status: "open", points: 3, urgent: true },
      },
      {
        op: "node",
        label: x.L.Work,
        id: "w2",
        properties: { status: "open", points: 5, urgent: false },
      },
      {
        op: "node",
        label: x.L.Work,
        id: "w3",
        properties: { status: "done", points: 3, urgent: true },
      },
      { op: "node", label: x.L.Work, id: "w4", properties: { status: "3", tags: ["open"] } },
    ]);
    const find = async (where: Record<string, string>) =>
      ids((await x.g.findNodes(x.L.Work, { where, limit: 10 })).nodes);

    assert.deepEqual(await find({ status: "open" }), ["w1", "w2"]);
    assert.deepEqual(await find({ points: "3" }), ["w1", "w3"]);
    assert.deepEqual(await find({ status: "3" }), ["w4"]);
    assert.deepEqual(await find({ urgent: "true", status: "open" }), ["w1"]);
    assert.deepEqual(await find({ tags: "open" }), [], "arrays never equal a scalar");
    assert.deepEqual(await find({ missing: "x" }), []);
    assert.deepEqual(await find({ id: "w2" }), ["w2"]);
  });

  test("findNodes pages in id order with a cursor", async () => {
    await using x = await fixture();
    await features(x, "e", "a", "d", "b", "c");

    const first = await x.g.findNodes(x.L.Feature, { limit: 2 });
    const second = await x.g.findNodes(x.L.Feature, { limit: 2, after: first.next! });
    const last = await x.g.findNodes(x.L.Feature, { limit: 2, after: second.next! });

    assert.deepEqual([ids(first.nodes), first.next], [["a", "b"], "b"]);
    assert.deepEqual([ids(second.nodes), second.next], [["c", "d"], "d"]);
    assert.deepEqual([ids(last.nodes), last.next], [["e"], undefined]);
  });

  // --- safety --------------------------------------------------------------------------------

  const injections = [
    "Feature) DETACH DELETE (n",
    "Feature`) MATCH (m) DETACH DELETE m //",
    "Feature:Admin",
    "Feature {id: 1}",
    "1Feature",
    "_Feature",
    "",
    "Feature\nMATCH",
    "a".repeat(65),
  ];

  test("labels that are not identifiers are refused before any query", async () => {
    await using x = await fixture({ anyLabel: true });
    await features(x, "keep");
    for (const label of injections) {
      await rejects(x.g.upsertNode({ label, id: "x", properties: {} }), "graph.label_invalid");
      await rejects(x.g.getNode({ label, id: "x" }), "graph.label_invalid");
      await rejects(x.g.deleteNode({ label, id: "x" }), "graph.label_invalid");
      await rejects(x.g.findNodes(label, { limit: 1 }), "graph.label_invalid");
      await rejects(
        x.g.neighbors({ label, id: "x" }, { direction: "out", depth: 1, limit: 1 }),
        "graph.label_invalid",
      );
      await rejects(
        x.g.upsertEdge({ from: x.f("keep"), type: x.T.DEPENDS_ON, to: { label, id: "x" } }),
        "graph.label_invalid",
      );
    }
    assert.deepEqual(ids((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes), ["keep"]);
  });

  test("relationship types that are not identifiers are refused before any query", async () => {
    await using x = await fixture({ anyType: true });
    await features(x, "a", "b");
    for (const type of injections) {
      await rejects(
        x.g.upsertEdge({ from: x.f("a"), type, to: x.f("b") }),
        "graph.type_invalid",
      );
      await rejects(
        x.g.neighbors(x.f("a"), { type, direction: "out", depth: 1, limit: 1 }),
        "graph.type_invalid",
      );
      await rejects(
        x.g.shortestPath(x.f("a"), x.f("b"), { type, direction: "out", maxDepth: 2 }),
        "graph.type_invalid",
      );
      await rejects(x.g.cycles({ type, maxLength: 3, limit: 1 }), "graph.type_invalid");
      await rejects(x.g.deleteEdge({ from: x.f("a"), type, to: x.f("b") }), "graph.type_invalid");
    }
    const left = await x.g.neighbors(x.f("a"), { direction: "both", depth: 1, limit: 10 });
    assert.deepEqual(left?.neighbors, []);
  });

  test("labels and types outside the allowlists are refused", async () => {
    await using x = await fixture();
    await features(x, "a", "b");

    await rejects(
      x.g.upsertNode({ label: "Elsewhere", id: "x", properties: {} }),
      "graph.label_not_allowed",
    );
    await rejects(x.g.findNodes("Elsewhere", { limit: 1 }), "graph.label_not_allowed");
    await rejects(
      x.g.upsertEdge({ from: x.f("a"), type: "LIKES", to: x.f("b") }),
      "graph.type_not_allowed",
    );
    await rejects(x.g.cycles({ type: "LIKES", maxLength: 2, limit: 1 }), "graph.type_not_allowed");
  });

  // --- edges ---------------------------------------------------------------------------------

  test("an edge upsert creates one relationship, then updates its properties", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    const edge = { from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") };

    const first = await x.g.upsertEdge({ ...edge, properties: { weight: 1 } });
    const second = await x.g.upsertEdge({ ...edge, properties: { weight: 2, note: "x" } });

    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.deepEqual(second.value, { ...edge, properties: { weight: 2, note: "x" } });
    const path = await x.g.shortestPath(x.f("a"), x.f("b"), { direction: "out", maxDepth: 1 });
    assert.deepEqual(path?.relationships, [{ ...edge, properties: { weight: 2, note: "x" } }]);
    const around = await x.g.neighbors(x.f("a"), { direction: "out", depth: 1, limit: 10 });
    assert.equal(around?.neighbors.length, 1);
  });

  test("an edge to or from a missing node is node_not_found naming that end", async () => {
    await using x = await fixture();
    await features(x, "a");

    const to = await rejects(
      x.g.upsertEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("ghost") }),
      "graph.node_not_found",
    );
    const from = await rejects(
      x.g.upsertEdge({ from: x.f("ghost"), type: x.T.DEPENDS_ON, to: x.f("a") }),
      "graph.node_not_found",
    );

    assert.equal(to.field, "to");
    assert.equal(from.field, "from");
  });

  test("two edge types between the same nodes are two relationships", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    await x.g.upsertEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") });
    await x.g.upsertEdge({ from: x.f("a"), type: x.T.BLOCKS, to: x.f("b") });

    assert.equal(
      await x.g.deleteEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") }),
      true,
    );

    const left = await x.g.neighbors(x.f("a"), { direction: "out", depth: 1, limit: 10 });
    assert.deepEqual(ids(left!.neighbors), ["b"]);
    const blocks = await x.g.neighbors(x.f("a"), {
      type: x.T.BLOCKS,
      direction: "out",
      depth: 1,
      limit: 10,
    });
    assert.deepEqual(ids(blocks!.neighbors), ["b"]);
  });

  test("deleting an edge that does not exist answers false", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    assert.equal(
      await x.g.deleteEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") }),
      false,
    );
  });

  // --- neighbours ----------------------------------------------------------------------------

  test("neighbours follow direction: out, in and both", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "b"], ["b", "c"]);
    const around = async (direction: "out" | "in" | "both") =>
      (await x.g.neighbors(x.f("b"), { direction, depth: 1, limit: 10 }))!.neighbors.map((n) =>
        `${n.id}@${n.distance}`
      );

    assert.deepEqual(await around("out"), ["c@1"]);
    assert.deepEqual(await around("in"), ["a@1"]);
    assert.deepEqual(await around("both"), ["a@1", "c@1"]);
  });

  test("neighbours within depth carry their shortest distance, nearest first", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c", "d", "e");
    await depends(x, ["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"], ["d", "e"]);

    const found = await x.g.neighbors(x.f("a"), { direction: "out", depth: 2, limit: 10 });

    assert.deepEqual(found!.neighbors.map((n) => [n.id, n.distance]), [
      ["b", 1],
      ["d", 1],
      ["c", 2],
      ["e", 2],
    ]);
    assert.equal(found!.truncated, false);
    assert.equal(found!.neighbors[0]!.label, x.L.Feature);
  });

  test("neighbours follow only the type asked for", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "b"]);
    await x.g.upsertEdge({ from: x.f("a"), type: x.T.BLOCKS, to: x.f("c") });

    const found = await x.g.neighbors(x.f("a"), {
      type: x.T.BLOCKS,
      direction: "out",
      depth: 2,
      limit: 10,
    });
    const all = await x.g.neighbors(x.f("a"), { direction: "out", depth: 2, limit: 10 });

    assert.deepEqual(ids(found!.neighbors), ["c"]);
    assert.deepEqual(ids(all!.neighbors), ["b", "c"]);
  });

  test("neighbours cross labels and return each node's own label", async () => {
    await using x = await fixture();
    await x.g.batch([
      { op: "node", label: x.L.Feature, id: "f", properties: {} },
      { op: "node", label: x.L.Work, id: "w", properties: { points: 2 } },
      {
        op: "edge",
        from: { label: x.L.Work, id: "w" },
        type: x.T.DEPENDS_ON,
        to: { label: x.L.Feature, id: "f" },
      },
    ]);

    const found = await x.g.neighbors(x.f("f"), { direction: "in", depth: 1, limit: 10 });

    assert.deepEqual(found!.neighbors, [
      { label: x.L.Work, labels: [x.L.Work], id: "w", properties: { points: 2 }, distance: 1 },
    ]);
  });

  test("the start node is never its own neighbour, even on a cycle", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    await depends(x, ["a", "b"], ["b", "a"], ["a", "a"]);

    const found = await x.g.neighbors(x.f("a"), { direction: "out", depth: 3, limit: 10 });

    assert.deepEqual(ids(found!.neighbors), ["b"]);
  });

  test("neighbours stop at limit and say the list is truncated", async () => {
    await using x = await fixture();
    await features(x, "hub", "n1", "n2", "n3", "n4");
    await depends(x, ["hub", "n1"], ["hub", "n2"], ["hub", "n3"], ["hub", "n4"]);

    const found = await x.g.neighbors(x.f("hub"), { direction: "out", depth: 1, limit: 3 });

    assert.deepEqual(ids(found!.neighbors), ["n1", "n2", "n3"]);
    assert.equal(found!.truncated, true);
  });

  test("neighbours of a missing node answer undefined", async () => {
    await using x = await fixture();
    assert.equal(
      await x.g.neighbors(x.f("ghost"), { direction: "out", depth: 1, limit: 10 }),
      undefined,
    );
  });

  // --- paths ---------------------------------------------------------------------------------

  test("shortest paths on a generated graph match an independent BFS", async () => {
    await using x = await fixture();
    const graph = generatedGraph(60, 130, 7);
    await x.g.batch([
      ...graph.nodes.map((id): BatchItem => ({
        op: "node",
        label: x.L.Feature,
        id,
        properties: {},
      })),
      ...graph.edges.map(([from, to]): BatchItem => ({
        op: "edge",
        from: x.f(from),
        type: x.T.DEPENDS_ON,
        to: x.f(to),
      })),
    ]);
    const edgeSet = new Set(graph.edges.map(([a, b]) => `${a}>${b}`));
    let reachable = 0;

    for (let i = 0; i < 25; i++) {
      const from = graph.nodes[(i * 7) % graph.nodes.length]!;
      const to = graph.nodes[(i * 13 + 5) % graph.nodes.length]!;
      const expected = bfsDistance(graph.edges, from, to, 10);
      const path = await x.g.shortestPath(x.f(from), x.f(to), {
        type: x.T.DEPENDS_ON,
        direction: "out",
        maxDepth: 10,
      });
      if (expected === undefined) {
        assert.equal(path, undefined, `${from} -> ${to} should have no path`);
        continue;
      }
      reachable++;
      assert.ok(path, `${from} -> ${to} should have a path of ${expected}`);
      assert.equal(path.relationships.length, expected, `${from} -> ${to}`);
      assert.equal(path.nodes.length, expected + 1);
      assert.equal(path.nodes[0]!.id, from);
      assert.equal(path.nodes.at(-1)!.id, to);
      path.relationships.forEach((r, k) => {
        assert.equal(r.from.id, path.nodes[k]!.id);
        assert.equal(r.to.id, path.nodes[k + 1]!.id);
        assert.ok(edgeSet.has(`${r.from.id}>${r.to.id}`), `${r.from.id}>${r.to.id} is an edge`);
      });
    }
    assert.ok(reachable >= 5, "the generated graph connects enough pairs to mean something");
  });

  test("a path longer than maxDepth is not found", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c", "d");
    await depends(x, ["a", "b"], ["b", "c"], ["c", "d"]);

    const short = await x.g.shortestPath(x.f("a"), x.f("d"), { direction: "out", maxDepth: 2 });
    const enough = await x.g.shortestPath(x.f("a"), x.f("d"), { direction: "out", maxDepth: 3 });

    assert.equal(short, undefined);
    assert.deepEqual(ids(enough!.nodes), ["a", "b", "c", "d"]);
  });

  test("a path against edge direction needs direction in or both", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "b"], ["c", "b"]);

    const out = await x.g.shortestPath(x.f("a"), x.f("c"), { direction: "out", maxDepth: 3 });
    const both = await x.g.shortestPath(x.f("a"), x.f("c"), { direction: "both", maxDepth: 3 });
    const inward = await x.g.shortestPath(x.f("b"), x.f("a"), { direction: "in", maxDepth: 3 });

    assert.equal(out, undefined);
    assert.deepEqual(ids(both!.nodes), ["a", "b", "c"]);
    assert.deepEqual(
      both!.relationships.map((r) => `${r.from.id}>${r.to.id}`),
      ["a>b", "c>b"],
      "relationships keep their stored direction",
    );
    assert.deepEqual(ids(inward!.nodes), ["b", "a"]);
  });

  test("a path from a node to itself is that node alone", async () => {
    await using x = await fixture();
    await features(x, "a");

    const path = await x.g.shortestPath(x.f("a"), x.f("a"), { direction: "out", maxDepth: 3 });

    assert.deepEqual(path, {
      nodes: [{ ...x.f("a"), labels: [x.L.Feature], properties: {} }],
      relationships: [],
    });
  });

  test("a path with a missing end is node_not_found naming the end", async () => {
    await using x = await fixture();
    await features(x, "a");

    const to = await rejects(
      x.g.shortestPath(x.f("a"), x.f("ghost"), { direction: "out", maxDepth: 3 }),
      "graph.node_not_found",
    );
    const from = await rejects(
      x.g.shortestPath(x.f("ghost"), x.f("a"), { direction: "out", maxDepth: 3 }),
      "graph.node_not_found",
    );

    assert.equal(to.field, "to");
    assert.equal(from.field, "from");
  });

  // --- cycles --------------------------------------------------------------------------------

  test("cycles lists each simple cycle once, rotated to start at its smallest node", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c", "d", "e", "f", "g");
    await depends(
      x,
      ["b", "c"],
      ["c", "a"],
      ["a", "b"],
      ["c", "d"],
      ["d", "c"],
      ["e", "f"],
      ["g", "g"],
    );

    const cycles = await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 5, limit: 10 });

    assert.deepEqual(cycles.map(ids).sort(), [["a", "b", "c", "a"], ["c", "d", "c"], ["g", "g"]]);
  });

  test("cycles longer than maxLength and cycles of other types are left out", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c", "d");
    await depends(x, ["a", "b"], ["b", "c"], ["c", "a"]);
    await x.g.batch([
      { op: "edge", from: x.f("a"), type: x.T.BLOCKS, to: x.f("d") },
      { op: "edge", from: x.f("d"), type: x.T.BLOCKS, to: x.f("a") },
    ]);

    const short = await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 2, limit: 10 });
    const blocks = await x.g.cycles({ type: x.T.BLOCKS, maxLength: 5, limit: 10 });

    assert.deepEqual(short, []);
    assert.deepEqual(blocks.map(ids), [["a", "d", "a"]]);
  });

  test("cycles stop at limit", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "a"], ["b", "b"], ["c", "c"]);

    const cycles = await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 3, limit: 2 });

    assert.equal(cycles.length, 2);
  });

  // --- rejectCycle ---------------------------------------------------------------------------

  test("rejectCycle refuses an edge that would close a cycle and names the cycle", async () => {
    await using x = await fixture();
    await features(x, "a", "b", "c");
    await depends(x, ["a", "b"], ["b", "c"]);

    const error = await rejects(
      x.g.upsertEdge({ from: x.f("c"), type: x.T.DEPENDS_ON, to: x.f("a"), rejectCycle: true }),
      "graph.cycle_rejected",
    );

    assert.deepEqual(ids(error.extra.cycle as NodeRef[]), ["c", "a", "b", "c"]);
    assert.deepEqual(await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 5, limit: 5 }), []);
  });

  test("rejectCycle refuses a self-loop", async () => {
    await using x = await fixture();
    await features(x, "a");

    const error = await rejects(
      x.g.upsertEdge({ from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("a"), rejectCycle: true }),
      "graph.cycle_rejected",
    );

    assert.deepEqual(ids(error.extra.cycle as NodeRef[]), ["a", "a"]);
  });

  test("rejectCycle only considers relationships of the edge's type", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    await x.g.upsertEdge({ from: x.f("a"), type: x.T.BLOCKS, to: x.f("b") });

    const accepted = await x.g.upsertEdge({
      from: x.f("b"),
      type: x.T.DEPENDS_ON,
      to: x.f("a"),
      rejectCycle: true,
    });

    assert.equal(accepted.created, true);
  });

  test("without rejectCycle an edge closing a cycle is accepted", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    await depends(x, ["a", "b"]);

    const accepted = await x.g.upsertEdge({ from: x.f("b"), type: x.T.DEPENDS_ON, to: x.f("a") });

    assert.equal(accepted.created, true);
  });

  test("rejectCycle on an edge that already exists updates it", async () => {
    await using x = await fixture();
    await features(x, "a", "b");
    await depends(x, ["a", "b"], ["b", "a"]);

    const updated = await x.g.upsertEdge({
      from: x.f("a"),
      type: x.T.DEPENDS_ON,
      to: x.f("b"),
      properties: { note: "kept" },
      rejectCycle: true,
    });

    assert.equal(updated.created, false);
  });

  test("concurrent edges that together close a 2-cycle: at most one is accepted", async () => {
    await using x = await fixture();
    for (let round = 0; round < 5; round++) {
      const [a, b] = [`a${round}`, `b${round}`];
      await features(x, a, b);

      const outcomes = await Promise.allSettled([
        x.g.upsertEdge({ from: x.f(a), type: x.T.DEPENDS_ON, to: x.f(b), rejectCycle: true }),
        x.g.upsertEdge({ from: x.f(b), type: x.T.DEPENDS_ON, to: x.f(a), rejectCycle: true }),
      ]);

      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1, `round ${round}`);
      const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      assert.equal((refused.reason as EdgeboxError).code, "graph.cycle_rejected");
    }
    assert.deepEqual(await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 5, limit: 5 }), []);
  });

  test("concurrent edges that together close a longer cycle: at most one is accepted", async () => {
    await using x = await fixture();
    for (let round = 0; round < 5; round++) {
      const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => `${n}${round}`) as [
        string,
        string,
        string,
        string,
      ];
      await features(x, a, b, c, d);
      await depends(x, [b, c], [d, a]);

      // a -> b -> c and c -> d -> a: each alone is fine, together they close a -> b -> c -> d -> a.
      const outcomes = await Promise.allSettled([
        x.g.upsertEdge({ from: x.f(a), type: x.T.DEPENDS_ON, to: x.f(b), rejectCycle: true }),
        x.g.upsertEdge({ from: x.f(c), type: x.T.DEPENDS_ON, to: x.f(d), rejectCycle: true }),
      ]);

      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1, `round ${round}`);
    }
    assert.deepEqual(await x.g.cycles({ type: x.T.DEPENDS_ON, maxLength: 6, limit: 5 }), []);
  });

  // --- batches -------------------------------------------------------------------------------

  test("a batch applies nodes and edges in order and says which were created", async () => {
    await using x = await fixture();
    await features(x, "old");

    const { results } = await x.g.batch([
      { op: "node", label: x.L.Feature, id: "new", properties: { v: 1 } },
      { op: "node", label: x.L.Feature, id: "old", properties: { v: 2 } },
      { op: "node", label: x.L.Work, id: "w", properties: {} },
      { op: "edge", from: x.f("new"), type: x.T.DEPENDS_ON, to: x.f("old") },
      { op: "edge", from: x.f("new"), type: x.T.DEPENDS_ON, to: x.f("old"), properties: { k: 1 } },
      { op: "edge", from: { label: x.L.Work, id: "w" }, type: x.T.BLOCKS, to: x.f("new") },
    ]);

    assert.deepEqual(results.map((r) => `${r.op}:${r.created}`), [
      "node:true",
      "node:false",
      "node:true",
      "edge:true",
      "edge:false",
      "edge:true",
    ]);
    assert.deepEqual((await x.g.getNode(x.f("old")))?.properties, { v: 2 });
  });

  test("a batch with an edge to a missing node writes nothing and names the item", async () => {
    await using x = await fixture();
    await features(x, "keep");

    const error = await rejects(
      x.g.batch([
        { op: "node", label: x.L.Feature, id: "n1", properties: {} },
        { op: "node", label: x.L.Feature, id: "keep", properties: { changed: true } },
        { op: "edge", from: x.f("n1"), type: x.T.DEPENDS_ON, to: x.f("keep") },
        { op: "edge", from: x.f("n1"), type: x.T.DEPENDS_ON, to: x.f("ghost") },
      ]),
      "graph.node_not_found",
    );

    assert.equal(error.field, "items.3.to");
    assert.equal(await x.g.getNode(x.f("n1")), undefined);
    assert.deepEqual((await x.g.getNode(x.f("keep")))?.properties, {});
    assert.deepEqual(ids((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes), ["keep"]);
  });

  test("a batch whose edge would close a cycle writes nothing", async () => {
    await using x = await fixture();

    const error = await rejects(
      x.g.batch([
        { op: "node", label: x.L.Feature, id: "a", properties: {} },
        { op: "node", label: x.L.Feature, id: "b", properties: {} },
        { op: "edge", from: x.f("a"), type: x.T.DEPENDS_ON, to: x.f("b") },
        { op: "edge", from: x.f("b"), type: x.T.DEPENDS_ON, to: x.f("a"), rejectCycle: true },
      ]),
      "graph.cycle_rejected",
    );

    assert.deepEqual(ids(error.extra.cycle as NodeRef[]), ["b", "a", "b"]);
    assert.deepEqual((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes, []);
  });

  test("a batch with a label outside the allowlist writes nothing", async () => {
    await using x = await fixture();

    const error = await rejects(
      x.g.batch([
        { op: "node", label: x.L.Feature, id: "a", properties: {} },
        { op: "node", label: "Intruder", id: "b", properties: {} },
      ]),
      "graph.label_not_allowed",
    );

    assert.equal(error.field, "items.1.label");
    assert.deepEqual((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes, []);
  });

  // --- features ------------------------------------------------------------------------------

  test("features: the driver declares what the target says, and implements exactly those", async () => {
    await using x = await fixture();
    assert.deepEqual([...x.g.features].sort(), [...declared].sort());
    assert.equal(x.g.features.has("cypher"), typeof x.g.cypher === "function");
  });

  // Where `cypher` is not declared, the features test above checks the driver has no such
  // method; there is nothing else to run.
  const cypherTest = (name: string, fn: (x: Fixture) => Promise<void>) => {
    if (!declared.has("cypher")) return;
    test(`cypher: ${name}`, async () => {
      await using x = await fixture();
      await fn(x);
    });
  };

  cypherTest("a read query returns rows with plain JSON values", async (x) => {
    await x.g.upsertNode({ ...x.f("a"), properties: { big: 2 ** 40, title: "A" } });

    const result = await x.g.cypher!(
      `MATCH (n:${x.L.Feature}) WHERE n.id = $id RETURN n.big AS big, n.title AS title, n AS node`,
      { id: "a" },
      { maxRows: 10 },
    );

    assert.deepEqual(result.columns, ["big", "title", "node"]);
    assert.equal(result.rows[0]!.big, 2 ** 40);
    assert.equal(result.rows[0]!.title, "A");
    assert.equal(result.truncated, false);
  });

  cypherTest("a write query is refused and writes nothing", async (x) => {
    for (
      const query of [
        `CREATE (n:${x.L.Feature} {id: 'evil'})`,
        `MATCH (n:${x.L.Feature}) SET n.evil = true RETURN n`,
        `MATCH (n:${x.L.Feature}) DETACH DELETE n`,
        `MERGE (n:${x.L.Feature} {id: 'evil'}) RETURN n`,
      ]
    ) {
      await rejects(x.g.cypher!(query, {}, { maxRows: 10 }), "graph.cypher_write_rejected");
    }
    await rejects(
      x.g.cypher!("LOAD CSV FROM 'http://127.0.0.1:9/x.csv' AS row RETURN row", {}, {
        maxRows: 10,
      }),
      "graph.cypher_write_rejected",
    );
    assert.deepEqual((await x.g.findNodes(x.L.Feature, { limit: 10 })).nodes, []);
  });

  cypherTest("an invalid query is cypher_invalid", async (x) => {
    const error = await rejects(
      x.g.cypher!("MATCH (n RETURN n", {}, { maxRows: 10 }),
      "graph.cypher_invalid",
    );
    assert.equal(error.field, "query");
  });

  cypherTest("rows past maxRows are cut off and flagged", async (x) => {
    const result = await x.g.cypher!("UNWIND range(1, 50) AS i RETURN i", {}, { maxRows: 5 });

    assert.deepEqual(result.rows.map((r) => r.i), [1, 2, 3, 4, 5]);
    assert.equal(result.truncated, true);
  });
}

/** A seeded random directed graph (no self-loops): `n` nodes, up to `m` distinct edges. */
export function generatedGraph(
  n: number,
  m: number,
  seed: number,
): { nodes: string[]; edges: [string, string][] } {
  const random = mulberry32(seed);
  const nodes = Array.from({ length: n }, (_, i) => `n${String(i).padStart(4, "0")}`);
  const seen = new Set<string>();
  const edges: [string, string][] = [];
  for (let tries = 0; edges.length < m && tries < m * 10; tries++) {
    const a = nodes[Math.floor(random() * n)]!;
    const b = nodes[Math.floor(random() * n)]!;
    if (a === b || seen.has(`${a}>${b}`)) continue;
    seen.add(`${a}>${b}`);
    edges.push([a, b]);
  }
  return { nodes, edges };
}

/** Hops from `from` to `to` along directed `edges`, or undefined past `maxDepth`. */
export function bfsDistance(
  edges: readonly [string, string][],
  from: string,
  to: string,
  maxDepth: number,
): number | undefined {
  if (from === to) return 0;
  const out = new Map<string, string[]>();
  for (const [a, b] of edges) out.set(a, [...(out.get(a) ?? []), b]);
  const seen = new Set([from]);
  let frontier = [from];
  for (let depth = 1; depth <= maxDepth; depth++) {
    const next: string[] = [];
    for (const node of frontier) {
      for (const target of out.get(node) ?? []) {
        if (target === to) return depth;
        if (!seen.has(target)) {
          seen.add(target);
          next.push(target);
        }
      }
    }
    frontier = next;
  }
  return undefined;
}

/** A small seeded PRNG, so generated graphs are the same on every run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
