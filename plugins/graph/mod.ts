/**
 * The graph plugin: nodes and typed relationships behind one HTTP API, on Neo4j 5 or on an
 * embedded in-memory graph. It answers what dependency graphs ask: what X depends on, what it
 * blocks, the path from A to B, whether an edge would close a cycle.
 */
import { definePlugin, type PluginContext } from "../../core/plugin.ts";
import { GraphConfig } from "./config.ts";
import type { GraphDriver } from "./driver.ts";
import { MemoryGraph } from "./memory.ts";
import { Neo4jGraph } from "./neo4j.ts";
import { graphRoutes } from "./routes.ts";

/** Longest Cypher query text `POST /cypher` accepts. */
const MAX_QUERY_LENGTH = 65_536;

/** The graph plugin definition. */
export const graphPlugin = definePlugin({
  type: "graph",
  description:
    "Nodes and typed relationships on Neo4j or an embedded graph: neighbours, paths, cycles",
  config: GraphConfig,
  requires: [],
  create(ctx) {
    const config = ctx.config;
    // Each driver call becomes a span and an `edgebox_plugin_operation_duration_seconds`
    // observation by operation and outcome: query count and latency per operation.
    const driver = ctx.instrument(
      createDriver(ctx),
      ctx.config.backend === "neo4j" ? { system: "neo4j" } : {},
    );
    return {
      routes: graphRoutes(driver, {
        ...config,
        allowCypher: config.backend === "neo4j" && config.allowCypher,
        maxQueryLength: MAX_QUERY_LENGTH,
      }),
      start: () => driver.connect(),
      ready: () => driver.ping(),
      stop: () => driver.close(),
      exports: driver,
      ...(config.bodyLimit === undefined ? {} : { bodyLimit: config.bodyLimit }),
    };
  },
});

/** The driver the config's `backend` names. */
function createDriver(ctx: PluginContext<GraphConfig>): GraphDriver {
  const config = ctx.config;
  const limits = {
    ...(config.labels ? { labels: config.labels } : {}),
    ...(config.relationships ? { relationships: config.relationships } : {}),
    cycleCheckDepth: config.cycleCheckDepth,
  };
  if (config.backend === "memory") {
    return new MemoryGraph({ ...limits, maxNodes: config.maxNodes, maxEdges: config.maxEdges });
  }
  return new Neo4jGraph({
    ...limits,
    url: config.url,
    user: config.user,
    password: config.password,
    database: config.database,
    poolSize: config.pool.size,
    acquisitionTimeout: config.pool.acquisitionTimeout,
    connectionTimeout: config.connectionTimeout,
    queryTimeout: config.queryTimeout,
    maxRetryTime: config.maxRetryTime,
    log: ctx.log,
  });
}
