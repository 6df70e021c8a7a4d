/** The graph plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { graphPlugin } from "./mod.ts";
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin, type PluginDefinition } from "../../core/plugin.ts";
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

/** The graph plugin's implementation, loaded by its light definition in `mod.ts`. */
export const graphImplementation: PluginDefinition = definePlugin({
  type: graphPlugin.type,
  description: graphPlugin.description,
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
