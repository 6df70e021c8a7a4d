/** The options and OpenAPI tag every graph route resource is registered with. */
import type { GraphRouteLimits, graphSchemas } from "../schemas.ts";

/** Options of the graph routes (`graphRoutes`). */
export interface GraphRoutesOptions extends GraphRouteLimits {
  /** Whether `POST /cypher` runs queries (the driver must also have the `cypher` feature). */
  readonly allowCypher: boolean;
}

/** What each resource's routes are registered with: the options, and the schemas built once. */
export interface GraphResourceOptions extends GraphRoutesOptions {
  /** The request schemas of this instance's limits, shared by every resource. */
  readonly schemas: ReturnType<typeof graphSchemas>;
}

/** The OpenAPI tags of every graph route. */
export const TAGS = ["graph"];
