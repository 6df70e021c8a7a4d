/**
 * The graph plugin: nodes and typed relationships behind one HTTP API, on Neo4j 5, on an
 * embedded graph recorded in SQLite, or on a throwaway in-memory one. It answers what dependency graphs ask: what X depends on, what it
 * blocks, the path from A to B, whether an edge would close a cycle.
 */
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin } from "../../core/plugin.ts";
import {
  graphRoutesOptions,
  MemoryGraphConfig,
  memoryGraphOptions,
  Neo4jGraphConfig,
  neo4jGraphOptions,
  SqliteGraphConfig,
  sqliteGraphOptions,
} from "./config.ts";
import type { GraphDriver, GraphFeature } from "./driver.ts";
import { MemoryGraph } from "./memory.ts";
import { SqliteGraph } from "./sqlite.ts";
import { graphRoutes } from "./routes.ts";

/** The graph plugin definition. */
export const graphPlugin = definePlugin({
  type: "graph",
  description:
    "Nodes and typed relationships on Neo4j, embedded SQLite or in memory: neighbours, paths, cycles",
  backends: {
    neo4j: defineBackend({
      config: Neo4jGraphConfig,
      system: "neo4j",
      // neo4j-driver loads only when a Neo4j instance connects (core/lazy.ts).
      create: (ctx): GraphDriver =>
        lazyDriver<GraphDriver>({
          load: async () =>
            new (await import("./neo4j.ts")).Neo4jGraph(neo4jGraphOptions(ctx.config, ctx.log)),
          known: { features: new Set<GraphFeature>(["cypher"]) },
        }),
    }),
    sqlite: defineBackend({
      config: SqliteGraphConfig,
      system: "sqlite",
      create: (ctx): GraphDriver =>
        new SqliteGraph(sqliteGraphOptions(ctx.config, () => ctx.dataDir.file(`${ctx.name}.db`))),
    }),
    memory: defineBackend({
      config: MemoryGraphConfig,
      create: (ctx): GraphDriver => new MemoryGraph(memoryGraphOptions(ctx.config)),
    }),
  },
  routes: (driver, ctx) => graphRoutes(driver, graphRoutesOptions(ctx.config)),
  api: (driver) => driver,
  // Left out of the config, it is undefined: the core then keeps `server.bodyLimit`.
  bodyLimit: (config) => config.bodyLimit as number,
});
