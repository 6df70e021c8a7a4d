/**
 * The graph's readiness probe is not one of its operations: `/ready` probes the backend, and
 * only requests show up in `edgebox_plugin_operation_duration_seconds` (a probe every few
 * seconds would otherwise drown a quiet instance's query counts and latencies).
 */
import assert from "node:assert/strict";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { openApp, SANITIZED } from "../_helpers.ts";
import {
  observabilityRegistry,
  observabilityYaml,
  scrape,
  series,
} from "./_observability_helpers.ts";

const OPERATIONS = "edgebox_plugin_operation_duration_seconds";

Deno.test("ready probes of the graph are not counted as graph operations", SANITIZED, async () => {
  const registry = new Map([...observabilityRegistry(), ["graph", graphPlugin]]);
  await using running = await openApp(
    observabilityYaml({ plugins: { graph: { backend: "memory" } } }),
    registry,
  );
  const graph = running.lifecycle.get("graph")!;
  for (let i = 0; i < 3; i++) assert.equal((await graph.instance.ready!()).status, "ready");
  const response = await running.request("/v1/graph/nodes/Feature/none");
  await response.body?.cancel();

  const operations = series(await scrape(running), OPERATIONS, { instance: "graph" })
    .map((sample) => sample.labels?.operation);
  assert.deepEqual([...new Set(operations)], ["getNode"]);
});
