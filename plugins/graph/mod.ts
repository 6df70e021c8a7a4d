/**
 * The graph plugin: nodes and typed relationships behind one HTTP API, on Neo4j 5, on an
 * embedded graph recorded in SQLite, or on a throwaway in-memory one. It answers what dependency graphs ask: what X depends on, what it
 * blocks, the path from A to B, whether an edge would close a cycle.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import {
  type GraphConfig,
  MemoryGraphConfig,
  Neo4jGraphConfig,
  SqliteGraphConfig,
} from "./config.ts";

/** The graph plugin definition; its implementation (`plugin.ts`) loads when an instance is enabled. */
export const graphPlugin = lazyPlugin<GraphConfig>({
  type: "graph",
  description:
    "Nodes and typed relationships on Neo4j, embedded SQLite or in memory: neighbours, paths, cycles",
  config: { neo4j: Neo4jGraphConfig, sqlite: SqliteGraphConfig, memory: MemoryGraphConfig },
  load: async () => (await import("./plugin.ts")).graphImplementation,
});
