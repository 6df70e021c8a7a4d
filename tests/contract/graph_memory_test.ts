/** Runs the graph contract against the embedded in-memory graph, plus its own capacity limits. */
import assert from "node:assert/strict";
import type { EdgeboxError } from "../../core/errors.ts";
import { MemoryGraph } from "../../plugins/graph/memory.ts";
import { SANITIZED } from "../_helpers.ts";
import { generatedGraph, mulberry32, runGraphContract } from "./graph_contract.ts";

runGraphContract({
  name: "memory",
  features: new MemoryGraph({ cycleCheckDepth: 1, maxNodes: 1, maxEdges: 1 }).features,
  async open(limits) {
    const graph = new MemoryGraph({ ...limits, maxNodes: 100_000, maxEdges: 100_000 });
    await graph.connect();
    return graph;
  },
});

Deno.test("memory graph: a node past maxNodes is capacity_exceeded", SANITIZED, async () => {
  await using graph = new MemoryGraph({ cycleCheckDepth: 10, maxNodes: 2, maxEdges: 10 });
  await graph.upsertNode({ label: "A", id: "1", properties: {} });
  await graph.upsertNode({ label: "A", id: "2", properties: {} });

  const error = await graph.upsertNode({ label: "A", id: "3", properties: {} }).catch((e) => e);

  assert.equal((error as EdgeboxError).code, "graph.capacity_exceeded");
  assert.equal(
    (await graph.upsertNode({ label: "A", id: "2", properties: { v: 1 } })).created,
    false,
  );
});

Deno.test(
  "memory graph: a relationship past maxEdges is capacity_exceeded",
  SANITIZED,
  async () => {
    await using graph = new MemoryGraph({ cycleCheckDepth: 10, maxNodes: 10, maxEdges: 1 });
    await graph.batch([
      { op: "node", label: "A", id: "1", properties: {} },
      { op: "node", label: "A", id: "2", properties: {} },
      { op: "edge", from: { label: "A", id: "1" }, type: "T", to: { label: "A", id: "2" } },
    ]);

    const error = await graph
      .upsertEdge({ from: { label: "A", id: "2" }, type: "T", to: { label: "A", id: "1" } })
      .catch((e) => e);

    assert.equal((error as EdgeboxError).code, "graph.capacity_exceeded");
  },
);

Deno.test(
  "memory graph: a traversal past its step budget is query_timeout",
  SANITIZED,
  async () => {
    await using graph = new MemoryGraph({
      cycleCheckDepth: 10,
      maxNodes: 100,
      maxEdges: 1_000,
      maxSteps: 50,
    });
    const ids = Array.from({ length: 20 }, (_, i) => String(i));
    await graph.batch([
      ...ids.map((id) => ({ op: "node" as const, label: "A", id, properties: {} })),
      ...ids.flatMap((a) =>
        ids.filter((b) => b !== a).slice(0, 5).map((b) => ({
          op: "edge" as const,
          from: { label: "A", id: a },
          type: "T",
          to: { label: "A", id: b },
        }))
      ),
    ]);

    const error = await graph
      .neighbors({ label: "A", id: "0" }, { direction: "both", depth: 5, limit: 100 })
      .catch((e) => e);

    assert.equal((error as EdgeboxError).code, "graph.query_timeout");
  },
);

Deno.test("memory graph: after close, operations answer unavailable", SANITIZED, async () => {
  const graph = new MemoryGraph({ cycleCheckDepth: 10, maxNodes: 10, maxEdges: 10 });
  await graph.connect();
  await graph.close();

  const error = await graph.getNode({ label: "A", id: "1" }).catch((e) => e);

  assert.equal((error as EdgeboxError).code, "graph.unavailable");
  assert.equal((await graph.ping()).status, "down");
});

Deno.test(
  "memory graph: bidirectional search agrees with a plain BFS in every direction",
  SANITIZED,
  async () => {
    await using graph = new MemoryGraph({ cycleCheckDepth: 10, maxNodes: 1_000, maxEdges: 1_000 });
    const { nodes, edges } = generatedGraph(150, 320, 11);
    await graph.batch([
      ...nodes.map((id) => ({ op: "node" as const, label: "N", id, properties: {} })),
      ...edges.map(([a, b]) => ({
        op: "edge" as const,
        from: { label: "N", id: a },
        type: "T",
        to: { label: "N", id: b },
      })),
    ]);
    const random = mulberry32(3);
    for (let i = 0; i < 300; i++) {
      const from = nodes[Math.floor(random() * nodes.length)]!;
      const to = nodes[Math.floor(random() * nodes.length)]!;
      const direction = (["out", "in", "both"] as const)[i % 3]!;
      const maxDepth = 1 + (i % 8);

      const path = await graph.shortestPath({ label: "N", id: from }, { label: "N", id: to }, {
        direction,
        maxDepth,
      });

      const expected = plainBfs(edges, from, to, direction, maxDepth);
      assert.equal(
        path?.relationships.length,
        expected,
        `${from} ${direction} ${to} <= ${maxDepth}`,
      );
      path?.relationships.forEach((r, k) => {
        const [a, b] = [path.nodes[k]!.id, path.nodes[k + 1]!.id];
        assert.ok(
          (direction !== "in" && r.from.id === a && r.to.id === b) ||
            (direction !== "out" && r.from.id === b && r.to.id === a),
          `step ${k} of ${from} ${direction} ${to} follows a stored relationship`,
        );
      });
    }
  },
);

/** Hops from `from` to `to` following `direction`, or undefined past `maxDepth`. */
function plainBfs(
  edges: readonly [string, string][],
  from: string,
  to: string,
  direction: "out" | "in" | "both",
  maxDepth: number,
): number | undefined {
  const next = new Map<string, string[]>();
  const link = (a: string, b: string) => next.set(a, [...(next.get(a) ?? []), b]);
  for (const [a, b] of edges) {
    if (direction !== "in") link(a, b);
    if (direction !== "out") link(b, a);
  }
  const seen = new Set([from]);
  let frontier = [from];
  for (let depth = 0; depth <= maxDepth; depth++) {
    if (frontier.includes(to)) return depth;
    const following: string[] = [];
    for (const node of frontier) {
      for (const target of next.get(node) ?? []) {
        if (!seen.has(target)) {
          seen.add(target);
          following.push(target);
        }
      }
    }
    frontier = following;
  }
  return undefined;
}
