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
  Deno.test(
    "neo4j graph: integers past 2^53 and temporal values written by others read as strings",
    SANITIZED,
    async () => {
      const label = `Foreign_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      await using graph = new Neo4jGraph({ cycleCheckDepth: 10, ...connection(url) });
      await graph.connect();
      const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
      try {
        await driver.executeQuery(
          `CREATE (:${label} {id: 'x', huge: 4611686018427387904, small: 7,
             at: datetime('2024-01-02T03:04:05Z')})`,
        );

        const node = await graph.getNode({ label, id: "x" });

        assert.equal(node?.properties.huge, "4611686018427387904");
        assert.equal(node?.properties.small, 7);
        assert.equal(node?.properties.at, "2024-01-02T03:04:05Z");
      } finally {
        await driver.executeQuery(`MATCH (n:${label}) DETACH DELETE n`);
        await driver.close();
      }
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
