/** `/edges`: create a relationship or replace its properties (optionally refusing a cycle), delete one. */
import { createRoute } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse as json, problemResponse as problem } from "../../../core/openapi.ts";
import type { GraphDriver } from "../driver.ts";
import { graphError } from "../errors.ts";
import { GraphEdgeSchema } from "../schemas.ts";
import { type GraphResourceOptions, TAGS } from "./options.ts";
import { inRequest } from "./request_errors.ts";

/** Registers the relationship routes on `app`. */
export function registerEdgeRoutes(
  app: PluginRoutes,
  driver: GraphDriver,
  options: GraphResourceOptions,
): void {
  const s = options.schemas;

  app.openapi(
    createRoute({
      method: "put",
      path: "/edges",
      summary: "Create a relationship or replace its properties",
      description: "With `rejectCycle: true`, an edge that would close a cycle of its type is " +
        "refused with 409 and the cycle (`cycle`: the nodes in order, first repeated last).",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: s.EdgeBody } } },
      },
      responses: {
        200: json(GraphEdgeSchema, "Replaced"),
        201: json(GraphEdgeSchema, "Created"),
        404: problem("An end does not exist"),
        409: problem("It would close a cycle"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      try {
        const { value, created } = await driver.upsertEdge(body);
        return created ? c.json(value, 201) : c.json(value, 200);
      } catch (error) {
        throw inRequest(error, "body");
      }
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/edges",
      summary: "Delete a relationship",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: s.EdgeKey } } },
      },
      responses: { 204: { description: "Deleted" }, 404: problem("No such relationship") },
    }),
    async (c) => {
      const key = c.req.valid("json");
      if (!(await driver.deleteEdge(key))) {
        throw graphError("graph.edge_not_found", {
          detail:
            `No ${key.type} relationship from ${key.from.label}:${key.from.id} to ${key.to.label}:${key.to.id}`,
        });
      }
      return c.body(null, 204);
    },
  );
}
