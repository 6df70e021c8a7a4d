/** Traversals: a node's neighbors within a depth, a shortest path, the cycles of a type. */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse as json, problemResponse as problem } from "../../../core/openapi.ts";
import type { GraphDriver } from "../driver.ts";
import { graphError } from "../errors.ts";
import { GraphEdgeSchema, GraphNodeSchema, NodeIdSchema } from "../schemas.ts";
import { type GraphResourceOptions, TAGS } from "./options.ts";
import { inRequest, nodeNotFound } from "./request_errors.ts";

const NeighborSchema = GraphNodeSchema.extend({ distance: z.number().int() });
const PathSchema = z.object({
  length: z.number().int(),
  nodes: z.array(GraphNodeSchema),
  relationships: z.array(GraphEdgeSchema),
}).openapi("GraphPath");
const RefSchema = z.object({ label: z.string(), id: NodeIdSchema });

/** Registers `GET /nodes/{label}/{id}/neighbors` on `app`. */
export function registerNeighborRoutes(
  app: PluginRoutes,
  driver: GraphDriver,
  options: GraphResourceOptions,
): void {
  const s = options.schemas;

  app.openapi(
    createRoute({
      method: "get",
      path: "/nodes/{label}/{id}/neighbors",
      summary: "Nodes reachable within depth hops, each with its distance",
      tags: TAGS,
      request: { params: s.NodePath, query: s.NeighborsQuery },
      responses: {
        200: json(
          z.object({ neighbors: z.array(NeighborSchema), truncated: z.boolean() }),
          "Nearest first",
        ),
        404: problem("No such node"),
      },
    }),
    async (c) => {
      const ref = c.req.valid("param");
      const { type, direction, depth, limit } = c.req.valid("query");
      const found = await driver.neighbors(ref, {
        direction,
        depth,
        limit,
        ...(type === undefined ? {} : { type }),
      });
      if (!found) throw nodeNotFound(ref, "path");
      return c.json(found, 200);
    },
  );
}

/** Registers `GET /path` and `GET /cycles` on `app`. */
export function registerTraversalRoutes(
  app: PluginRoutes,
  driver: GraphDriver,
  options: GraphResourceOptions,
): void {
  const s = options.schemas;

  app.openapi(
    createRoute({
      method: "get",
      path: "/path",
      summary: "A shortest path between two nodes (from=Label:id&to=Label:id)",
      tags: TAGS,
      request: { query: s.PathQuery },
      responses: { 200: json(PathSchema, "The path"), 404: problem("No path, or no such node") },
    }),
    async (c) => {
      const { from, to, type, direction, maxDepth } = c.req.valid("query");
      let path;
      try {
        path = await driver.shortestPath(from, to, {
          direction,
          maxDepth,
          ...(type === undefined ? {} : { type }),
        });
      } catch (error) {
        throw inRequest(error, "query");
      }
      if (!path) {
        throw graphError("graph.path_not_found", {
          detail:
            `No path from ${from.label}:${from.id} to ${to.label}:${to.id} within ${maxDepth} hops`,
        });
      }
      return c.json({ length: path.relationships.length, ...path }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/cycles",
      summary: "Cycles of one relationship type",
      tags: TAGS,
      request: { query: s.CyclesQuery },
      responses: {
        200: json(
          z.object({
            cycles: z.array(z.object({ length: z.number().int(), nodes: z.array(RefSchema) })),
          }),
          "Each cycle once, closed (first node repeated last)",
        ),
      },
    }),
    async (c) => {
      const { type, maxLength, limit } = c.req.valid("query");
      const cycles = await driver.cycles({ type, maxLength, limit });
      return c.json({
        cycles: cycles.map((nodes) => ({ length: nodes.length - 1, nodes: [...nodes] })),
      }, 200);
    },
  );
}
