/**
 * HTTP routes of the graph plugin, written only against {@linkcode GraphDriver}. Every label,
 * type, id, property key and depth is validated here with zod (400 naming the field) before the
 * driver sees it; the drivers check labels and types again before building a query. Each
 * resource registers its routes from its own file under `routes/`.
 */
import type { PluginRoutes } from "../../core/http_env.ts";
import { createRouter } from "../../core/routes.ts";
import type { GraphDriver } from "./driver.ts";
import { registerBatchRoutes } from "./routes/batch.ts";
import { registerEdgeRoutes } from "./routes/edges.ts";
import { registerNodeRoutes } from "./routes/nodes.ts";
import type { GraphRoutesOptions } from "./routes/options.ts";
import { registerNeighborRoutes, registerTraversalRoutes } from "./routes/traversals.ts";
import { graphSchemas } from "./schemas.ts";

export type { GraphRoutesOptions } from "./routes/options.ts";

/** Builds the graph sub-app: nodes, neighbors, edges, path and cycles, batch and Cypher. */
export function graphRoutes(driver: GraphDriver, options: GraphRoutesOptions): PluginRoutes {
  const app = createRouter();
  const resource = { ...options, schemas: graphSchemas(options) };
  registerNodeRoutes(app, driver, resource);
  registerNeighborRoutes(app, driver, resource);
  registerEdgeRoutes(app, driver, resource);
  registerTraversalRoutes(app, driver, resource);
  registerBatchRoutes(app, driver, resource);
  return app;
}
