/** `/nodes`: create or replace, read and delete a node; list a label's nodes, filtered. */
import { createRoute, z } from "@hono/zod-openapi";
import { encodeCursor } from "../../../core/cursor.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse as json, problemResponse as problem } from "../../../core/openapi.ts";
import type { GraphDriver } from "../driver.ts";
import { GraphNodeSchema } from "../schemas.ts";
import { filters, listingScope, positionOf } from "./listing.ts";
import { type GraphResourceOptions, TAGS } from "./options.ts";
import { nodeNotFound } from "./request_errors.ts";

const NodePageSchema = z.object({
  nodes: z.array(GraphNodeSchema),
  cursor: z.string().nullable().openapi({
    description: "Opaque; send it back as `?cursor=` for the next page. `null` on the last page",
  }),
}).openapi("GraphNodePage");

/** Registers the node routes on `app`. */
export function registerNodeRoutes(
  app: PluginRoutes,
  driver: GraphDriver,
  options: GraphResourceOptions,
): void {
  const s = options.schemas;

  app.openapi(
    createRoute({
      method: "put",
      path: "/nodes/{label}/{id}",
      summary: "Create or replace a node's properties",
      tags: TAGS,
      request: {
        params: s.NodePath,
        body: { required: true, content: { "application/json": { schema: s.NodeProperties } } },
      },
      responses: {
        200: json(GraphNodeSchema, "Replaced"),
        201: json(GraphNodeSchema, "Created"),
        400: problem("Invalid label, id or properties"),
      },
    }),
    async (c) => {
      const { label, id } = c.req.valid("param");
      const properties = c.req.valid("json");
      const { value, created } = await driver.upsertNode({ label, id, properties });
      return created ? c.json(value, 201) : c.json(value, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/nodes/{label}/{id}",
      summary: "Read a node",
      tags: TAGS,
      request: { params: s.NodePath },
      responses: { 200: json(GraphNodeSchema, "The node"), 404: problem("No such node") },
    }),
    async (c) => {
      const ref = c.req.valid("param");
      const node = await driver.getNode(ref);
      if (!node) throw nodeNotFound(ref, "path");
      return c.json(node, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/nodes/{label}/{id}",
      summary: "Delete a node and its relationships",
      tags: TAGS,
      request: { params: s.NodePath },
      responses: { 204: { description: "Deleted" }, 404: problem("No such node") },
    }),
    async (c) => {
      const ref = c.req.valid("param");
      if (!(await driver.deleteNode(ref))) throw nodeNotFound(ref, "path");
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/nodes/{label}",
      summary: "List nodes of a label, ordered by id; filter with where[prop]=value",
      description: "`where[status]=open` matches the string, and also the number or boolean a " +
        "value spells (`where[points]=3`). Pages with `limit` and `cursor`: send back the " +
        "previous page's `cursor` for the next page; it is `null` on the last one.",
      tags: TAGS,
      request: { params: s.LabelPath, query: s.ListQuery },
      responses: {
        200: json(NodePageSchema, "A page of nodes"),
        400: problem("Invalid label, filter, limit or cursor (graph.cursor_invalid)"),
      },
    }),
    async (c) => {
      const { label } = c.req.valid("param");
      const { limit, cursor, ...rest } = c.req.valid("query");
      const where = filters(rest, s);
      const scope = listingScope(label);
      const after = cursor === undefined ? undefined : positionOf(cursor, scope, s);
      const page = await driver.findNodes(label, {
        limit,
        ...(after === undefined ? {} : { after }),
        where,
      });
      return c.json({
        nodes: page.nodes,
        cursor: page.next === undefined ? null : encodeCursor(scope, page.next),
      }, 200);
    },
  );
}
