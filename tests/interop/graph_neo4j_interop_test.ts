/**
 * Another Neo4j client on the same database, behind edgebox's back: nodes neo4j-driver creates
 * with int64 beyond 2^53, floats, dates, date-times, points and byte arrays read through edgebox
 * in the typed value form, and written back unchanged through edgebox they are the same values
 * of the same types (checked with Cypher); nodes without an `id`, with an integer `id` and with
 * two labels are addressable through GET, neighbours, paths and edges. Runs when Neo4j is
 * reachable (required in CI).
 */
import assert from "node:assert/strict";
import neo4j, { type Driver } from "neo4j-driver";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, type RunningApp, SANITIZED } from "../_helpers.ts";

const registry = new Map([["graph", graphPlugin]]);
const url = Deno.env.get("NEO4J_URL") ?? "bolt://127.0.0.1:7687";
const user = Deno.env.get("NEO4J_USER") ?? "neo4j";
const password = Deno.env.get("NEO4J_PASSWORD") ?? "edgebox-local";

interface Both extends AsyncDisposable {
  app: RunningApp;
  driver: Driver;
  /** Labels of this test alone. */
  L: string;
  M: string;
  /** A JSON request to the graph instance. */
  call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Edgebox (in-process) on the local Neo4j, and a plain neo4j-driver client beside it. */
async function openBoth(): Promise<Both> {
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const L = `Interop_${suffix}`;
  const M = `Other_${suffix}`;
  const app = await openApp(
    configYaml({
      graph: {
        backend: "neo4j",
        url,
        user,
        password,
        connectionTimeout: "2s",
        timeouts: { start: "10s", ready: "3s", stop: "5s" },
      },
    }),
    registry,
  );
  const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
  return {
    app,
    driver,
    L,
    M,
    async call(method, path, body) {
      const response = await app.request(`/v1/graph${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : {} };
    },
    async [Symbol.asyncDispose]() {
      try {
        await driver.executeQuery(`MATCH (n) WHERE n:${L} OR n:${M} DETACH DELETE n`);
        for (const label of [L, M]) {
          await driver.executeQuery(`DROP CONSTRAINT edgebox_${label}_id IF EXISTS`);
        }
      } finally {
        await driver.close();
        await app.lifecycle.stop();
      }
    },
  };
}

if (await realService("neo4j", url, 7687)) {
  Deno.test(
    "values another client wrote read typed, and written back through edgebox they are unchanged",
    SANITIZED,
    async () => {
      await using x = await openBoth();
      await x.driver.executeQuery(
        `CREATE (:${x.L} {id: 'v', huge: 9007199254740993, low: -9223372036854775808, small: 7,
           two: 2.0, half: 0.5, day: date('2026-12-05'),
           at: datetime('2026-12-05T12:00:00.123456789+01:00[Europe/Paris]'),
           utc: datetime('2026-12-05T11:00:00Z'), wall: localdatetime('2026-12-05T12:00:00'),
           noon: time('12:00:01.5+01:00'), lunch: localtime('12:30'),
           span: duration('P1Y2M3DT4H5M6.7S'), place: point({latitude: 48.85, longitude: 2.35}),
           box: point({x: 1, y: 2, z: 3}), blob: $blob, bigs: [1, 9007199254740993],
           days: [date('2020-01-01'), date('2020-02-29')], floats: [1.5, 2.0], name: 'v'})`,
        { blob: new Int8Array([0, 1, 2, -1]) },
      );
      const before = await snapshot(x.driver, x.L);

      const read = await x.call("GET", `/nodes/${x.L}/v`);

      assert.equal(read.status, 200);
      assert.deepEqual(read.body.properties, {
        huge: { $int: "9007199254740993" },
        low: { $int: "-9223372036854775808" },
        small: 7,
        two: { $float: "2" },
        half: 0.5,
        day: { $date: "2026-12-05" },
        at: { $datetime: "2026-12-05T12:00:00.123456789+01:00[Europe/Paris]" },
        utc: { $datetime: "2026-12-05T11:00:00Z" },
        wall: { $localdatetime: "2026-12-05T12:00:00" },
        noon: { $time: "12:00:01.500000000+01:00" },
        lunch: { $localtime: "12:30:00" },
        span: { $duration: "P1Y2M3DT4H5M6.700000000S" },
        place: { $point: { srid: 4326, x: 2.35, y: 48.85 } },
        box: { $point: { srid: 9157, x: 1, y: 2, z: 3 } },
        blob: { $bytes: "AAEC/w==" },
        bigs: [1, { $int: "9007199254740993" }],
        days: [{ $date: "2020-01-01" }, { $date: "2020-02-29" }],
        floats: [1.5, { $float: "2" }],
        name: "v",
      });

      const written = await x.call("PUT", `/nodes/${x.L}/v`, read.body.properties);

      assert.equal(written.status, 200);
      assert.deepEqual(written.body.properties, read.body.properties);
      assert.deepEqual(await snapshot(x.driver, x.L), before);
    },
  );

  Deno.test(
    "a value the driver writes through edgebox has the type another client expects",
    SANITIZED,
    async () => {
      await using x = await openBoth();

      const put = await x.call("PUT", `/nodes/${x.L}/w`, {
        huge: { $int: "-9007199254740993" },
        two: { $float: "2" },
        day: { $date: "2026-12-05" },
        at: { $datetime: "2026-03-29T03:30:00+02:00[Europe/Paris]" },
        place: { $point: { srid: 7203, x: 1, y: 2 } },
        blob: { $bytes: "/w==" },
      });

      assert.equal(put.status, 201);
      const { records } = await x.driver.executeQuery(
        `MATCH (n:${x.L} {id: 'w'})
         RETURN n.huge = -9007199254740993 AS huge, valueType(n.huge) AS hugeType,
           valueType(n.two) AS twoType, n.day = date('2026-12-05') AS day,
           n.at = datetime('2026-03-29T03:30:00[Europe/Paris]') AS at,
           n.place = point({x: 1, y: 2}) AS place, n.blob AS blob`,
      );
      const { blob, ...row } = records[0]!.toObject();
      // Cypher's valueType calls a byte array a list of integers; the driver tells them apart.
      assert.ok(blob instanceof Int8Array, "a byte array, not a list");
      assert.deepEqual([...blob], [-1]);
      assert.deepEqual(row, {
        huge: true,
        hugeType: "INTEGER NOT NULL",
        twoType: "FLOAT NOT NULL",
        day: true,
        at: true,
        place: true,
      });
    },
  );

  Deno.test(
    "a node without an id is reachable by its elementId: GET, neighbours, paths, edges",
    SANITIZED,
    async () => {
      await using x = await openBoth();
      const { records } = await x.driver.executeQuery(
        `CREATE (a:${x.L} {name: 'anonymous'}), (b:${x.L} {id: 'b'}), (a)-[:LINKS]->(b)
         RETURN elementId(a) AS a`,
      );
      const a = records[0]!.get("a") as string;
      const path = encodeURIComponent(a);

      const got = await x.call("GET", `/nodes/${x.L}/${path}`);
      const around = await x.call("GET", `/nodes/${x.L}/${path}/neighbors?type=LINKS`);
      const route = await x.call(
        "GET",
        `/path?from=${x.L}:${path}&to=${x.L}:b&type=LINKS`,
      );
      const edge = await x.call("PUT", "/edges", {
        from: { label: x.L, id: "b" },
        type: "BACK",
        to: { label: x.L, id: a },
        properties: { w: 1 },
      });
      const listed = await x.call("GET", `/nodes/${x.L}`);

      assert.equal(got.status, 200);
      assert.deepEqual(got.body, {
        label: x.L,
        labels: [x.L],
        id: a,
        properties: { name: "anonymous" },
      });
      assert.deepEqual((around.body.neighbors as { id: string }[]).map((n) => n.id), ["b"]);
      assert.equal(route.status, 200);
      assert.deepEqual((route.body.nodes as { id: string }[]).map((n) => n.id), [a, "b"]);
      assert.equal(edge.status, 201);
      assert.deepEqual(edge.body.to, { label: x.L, id: a });
      assert.deepEqual((listed.body.nodes as { id: string }[]).map((n) => n.id), ["b", a]);
      const { records: back } = await x.driver.executeQuery(
        `MATCH (:${x.L} {id: 'b'})-[r:BACK]->(t) RETURN elementId(t) AS t, r.w AS w`,
      );
      assert.equal(back[0]?.get("t"), a);
      assert.equal(
        (await x.call("DELETE", "/edges", {
          from: { label: x.L, id: "b" },
          type: "BACK",
          to: { label: x.L, id: a },
        })).status,
        204,
      );
      assert.equal((await x.call("DELETE", `/nodes/${x.L}/${path}`)).status, 204);
      assert.equal((await x.call("GET", `/nodes/${x.L}/${path}`)).status, 404);
    },
  );

  Deno.test(
    "a node with an integer id is reachable by it and keeps its type, read and written",
    SANITIZED,
    async () => {
      await using x = await openBoth();
      await x.driver.executeQuery(
        `CREATE (n:${x.L} {id: 42, title: 'answer'}), (m:${x.L} {id: 'm'}), (m)-[:LINKS]->(n)`,
      );

      const got = await x.call("GET", `/nodes/${x.L}/42`);
      const around = await x.call("GET", `/nodes/${x.L}/m/neighbors`);
      const route = await x.call("GET", `/path?from=${x.L}:m&to=${x.L}:42`);
      const edge = await x.call("PUT", "/edges", {
        from: { label: x.L, id: 42 },
        type: "LINKS",
        to: { label: x.L, id: "m" },
      });
      const put = await x.call("PUT", `/nodes/${x.L}/42`, { title: "still 42" });

      assert.deepEqual(got.body, {
        label: x.L,
        labels: [x.L],
        id: 42,
        properties: { title: "answer" },
      });
      assert.deepEqual((around.body.neighbors as { id: unknown }[]).map((n) => n.id), [42]);
      assert.deepEqual((route.body.nodes as { id: unknown }[]).map((n) => n.id), ["m", 42]);
      assert.equal(edge.status, 201);
      assert.deepEqual(edge.body.from, { label: x.L, id: 42 });
      assert.equal(put.status, 200);
      assert.equal(put.body.id, 42);
      const { records } = await x.driver.executeQuery(
        `MATCH (n:${x.L}) WHERE n.title = 'still 42'
         RETURN n.id = 42 AS same, valueType(n.id) AS type, count { (n)-->() } AS out`,
      );
      assert.deepEqual(records.map((r) => r.toObject()), [
        { same: true, type: "INTEGER NOT NULL", out: neo4j.int(1) },
      ]);
    },
  );

  Deno.test("a node with two labels shows both, under either label", SANITIZED, async () => {
    await using x = await openBoth();
    await x.driver.executeQuery(`CREATE (:${x.M}:${x.L} {id: 'both', n: 1})`);

    const byL = await x.call("GET", `/nodes/${x.L}/both`);
    const listed = await x.call("GET", `/nodes/${x.L}`);

    assert.equal(byL.body.label, x.L);
    assert.deepEqual([...byL.body.labels as string[]].sort(), [x.L, x.M].sort());
    const [node] = listed.body.nodes as { label: string; labels: string[] }[];
    assert.equal(node?.label, x.L);
    assert.deepEqual([...node!.labels].sort(), [x.L, x.M].sort());
  });
}

/** Every property of every node under `label` as the driver reads it, with Cypher's type names. */
async function snapshot(driver: Driver, label: string): Promise<unknown> {
  const { records } = await driver.executeQuery(
    `MATCH (n:${label})
     RETURN elementId(n) AS node, properties(n) AS props,
       [k IN keys(n) | k + ': ' + valueType(n[k])] AS types ORDER BY node`,
  );
  return records.map((r) => ({
    node: r.get("node"),
    props: r.get("props"),
    types: (r.get("types") as string[]).sort(),
  }));
}
