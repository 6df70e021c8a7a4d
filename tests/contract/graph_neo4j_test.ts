/**
 * Runs the graph contract against Neo4j when it is reachable (NEO4J_URL, NEO4J_USER,
 * NEO4J_PASSWORD; local defaults), and checks, with no server at all, that a driver pointed at a
 * dead port fails fast with `graph.unavailable` instead of hanging.
 */
import assert from "node:assert/strict";
import neo4j from "neo4j-driver";
import type { EdgeboxError } from "../../core/errors.ts";
import type { GraphLimits } from "../../plugins/graph/driver.ts";
import { constraintName, LOCK_LABEL, Neo4jGraph } from "../../plugins/graph/neo4j.ts";
import { SANITIZED } from "../_helpers.ts";
import { realService } from "./_services.ts";
import { runGraphContract } from "./graph_contract.ts";

const url = Deno.env.get("NEO4J_URL") ?? "bolt://127.0.0.1:7687";
const user = Deno.env.get("NEO4J_USER") ?? "neo4j";
const password = Deno.env.get("NEO4J_PASSWORD") ?? "edgebox-local";

/** Settings of a driver under test: short timeouts, so a failure shows quickly. */
function connection(at: string) {
  return {
    url: at,
    user,
    password,
    database: "neo4j",
    poolSize: 20,
    acquisitionTimeout: 5_000,
    connectionTimeout: 2_000,
    queryTimeout: 20_000,
    maxRetryTime: 2_000,
  };
}

const neo4jUp = await realService("neo4j", url, 7687);

if (neo4jUp) {
  runGraphContract({
    name: "neo4j",
    // Constructing a driver does no I/O; only connect() does.
    features: new Neo4jGraph({ cycleCheckDepth: 1, ...connection(url) }).features,
    async open(limits: GraphLimits) {
      const graph = new Neo4jGraph({ ...limits, ...connection(url) });
      try {
        await graph.connect();
      } catch (error) {
        await graph.close();
        throw error;
      }
      return graph;
    },
    async purge(labels, types) {
      // A separate client: the test's own driver is the thing under test.
      const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
      const session = driver.session({ database: "neo4j" });
      try {
        await session.run(
          "MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) DETACH DELETE n",
          { labels },
        );
        await session.run(`MATCH (l:${LOCK_LABEL}) WHERE l.type IN $types DELETE l`, { types });
        for (const label of labels) {
          await session.run(`DROP CONSTRAINT ${constraintName(label)} IF EXISTS`);
        }
      } finally {
        await session.close();
        await driver.close();
      }
    },
  });
}

if (neo4jUp) {
  /** A driver under test and a separate client writing behind its back, under a fresh label. */
  const foreign = async () => {
    const label = `Foreign_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const graph = new Neo4jGraph({ cycleCheckDepth: 10, ...connection(url) });
    await graph.connect();
    const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
    return {
      label,
      graph,
      driver,
      async [Symbol.asyncDispose]() {
        try {
          await driver.executeQuery(`MATCH (n:${label}) DETACH DELETE n`);
        } finally {
          await driver.close();
          await graph.close();
        }
      },
    };
  };

  Deno.test(
    "neo4j graph: integers past 2^53, floats and temporal values written by others read typed",
    SANITIZED,
    async () => {
      await using f = await foreign();
      await f.driver.executeQuery(
        `CREATE (:${f.label} {id: 'x', huge: 4611686018427387904, small: 7, two: 2.0,
           at: datetime('2024-01-02T03:04:05Z'), day: date('2024-01-02')})`,
      );

      const node = await f.graph.getNode({ label: f.label, id: "x" });

      assert.deepEqual(node?.properties, {
        huge: { $int: "4611686018427387904" },
        small: 7,
        two: { $float: "2" },
        at: { $datetime: "2024-01-02T03:04:05Z" },
        day: { $date: "2024-01-02" },
      });
    },
  );

  Deno.test(
    "neo4j graph: a node without an id is addressed by its elementId, one with an integer id by it",
    SANITIZED,
    async () => {
      await using f = await foreign();
      const { records } = await f.driver.executeQuery(
        `CREATE (a:${f.label} {name: 'anonymous'}), (b:${f.label} {id: 42, name: 'numbered'}),
           (c:${f.label} {id: 'named'}), (a)-[:LINKS]->(b), (b)-[:LINKS]->(c)
         RETURN elementId(a) AS a`,
      );
      const elementId = records[0]!.get("a") as string;
      const a = { label: f.label, id: elementId };
      const b = { label: f.label, id: "42" };

      const readA = await f.graph.getNode(a);
      const readB = await f.graph.getNode(b);
      const around = await f.graph.neighbors(a, { direction: "out", depth: 2, limit: 10 });
      const path = await f.graph.shortestPath(a, { label: f.label, id: "named" }, {
        direction: "out",
        maxDepth: 3,
      });
      const listed = await f.graph.findNodes(f.label, { limit: 1 });
      const rest = await f.graph.findNodes(f.label, { limit: 5, after: listed.next! });

      assert.deepEqual(readA, {
        label: f.label,
        labels: [f.label],
        id: elementId,
        properties: { name: "anonymous" },
      });
      assert.equal(readB?.id, 42);
      assert.deepEqual(around?.neighbors.map((n) => n.id), [42, "named"]);
      assert.deepEqual(path?.nodes.map((n) => n.id), [elementId, 42, "named"]);
      assert.deepEqual(path?.relationships.map((r) => [r.from.id, r.to.id]), [
        [elementId, 42],
        [42, "named"],
      ]);
      assert.deepEqual([...listed.nodes, ...rest.nodes].map((n) => n.id), [
        "named",
        42,
        elementId,
      ]);
      assert.equal(rest.next, undefined);
    },
  );
}

/** A port nothing listens on: bound, then released. */
function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test(
  "neo4j graph: connect to a dead port fails fast with unavailable",
  SANITIZED,
  async () => {
    await using graph = new Neo4jGraph({
      cycleCheckDepth: 10,
      ...connection(`bolt://127.0.0.1:${deadPort()}`),
    });

    const error = await graph.connect().then(() => undefined, (e) => e as EdgeboxError);

    assert.equal(error?.code, "graph.unavailable");
    assert.equal(error?.headers["Retry-After"], "1");
    assert.equal((await graph.ping()).status, "down");
  },
);

Deno.test("neo4j graph: a query while the server is down is unavailable", SANITIZED, async () => {
  await using graph = new Neo4jGraph({
    cycleCheckDepth: 10,
    ...connection(`bolt://127.0.0.1:${deadPort()}`),
  });
  await graph.connect().catch(() => undefined);

  const error = await graph.getNode({ label: "Feature", id: "a" }).then(
    () => undefined,
    (e) => e as EdgeboxError,
  );

  assert.equal(error?.code, "graph.unavailable");
});

Deno.test("neo4j graph: a query before connect is unavailable", SANITIZED, async () => {
  await using graph = new Neo4jGraph({ cycleCheckDepth: 10, ...connection(url) });

  const error = await graph.getNode({ label: "Feature", id: "a" }).then(
    () => undefined,
    (e) => e as EdgeboxError,
  );

  assert.equal(error?.code, "graph.unavailable");
});
