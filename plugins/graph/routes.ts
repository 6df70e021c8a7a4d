/**
 * HTTP routes of the graph plugin, written only against {@linkcode GraphDriver}. Every label,
 * type, id, property key and depth is validated here with zod (400 naming the field) before the
 * driver sees it; the drivers check labels and types again before building a query.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../core/http_env.ts";
import { CursorError, decodeCursor, encodeCursor } from "../../core/cursor.ts";
import { EdgeboxError } from "../../core/errors.ts";
import { jsonResponse as json, problemResponse as problem } from "../../core/openapi.ts";
import { createRouter, validationError } from "../../core/routes.ts";
import type { GraphDriver } from "./driver.ts";
import { graphError } from "./errors.ts";
import {
  GraphEdgeSchema,
  GraphNodeSchema,
  type GraphRouteLimits,
  graphSchemas,
} from "./schemas.ts";

/** Options of {@linkcode graphRoutes}. */
export interface GraphRoutesOptions extends GraphRouteLimits {
  /** Whether `POST /cypher` runs queries (the driver must also have the `cypher` feature). */
  readonly allowCypher: boolean;
}

/** Most `where[...]` filters on one listing. */
const MAX_FILTERS = 16;

const TAGS = ["graph"];

const NeighborSchema = GraphNodeSchema.extend({ distance: z.number().int() });
const PathSchema = z.object({
  length: z.number().int(),
  nodes: z.array(GraphNodeSchema),
  relationships: z.array(GraphEdgeSchema),
}).openapi("GraphPath");
const RefSchema = z.object({ label: z.string(), id: z.string() });
const NodePageSchema = z.object({
  nodes: z.array(GraphNodeSchema),
  cursor: z.string().nullable().openapi({
    description: "Opaque; send it back as `?cursor=` for the next page. `null` on the last page",
  }),
}).openapi("GraphNodePage");

/** Builds the graph sub-app. */
export function graphRoutes(driver: GraphDriver, options: GraphRoutesOptions): PluginRoutes {
  const app = createRouter();
  const s = graphSchemas(options);

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

  app.openapi(
    createRoute({
      method: "post",
      path: "/batch",
      summary: "Upsert many nodes and relationships in one transaction: all or nothing",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: s.BatchBody } } },
      },
      responses: {
        200: json(
          z.object({
            results: z.array(z.object({ op: z.enum(["node", "edge"]), created: z.boolean() })),
            nodes: z.object({ created: z.number().int(), updated: z.number().int() }),
            edges: z.object({ created: z.number().int(), updated: z.number().int() }),
          }),
          "Every item applied",
        ),
        404: problem("An edge's end does not exist (nothing was written)"),
        409: problem("An edge would close a cycle (nothing was written)"),
      },
    }),
    async (c) => {
      const { items } = c.req.valid("json");
      let results;
      try {
        ({ results } = await driver.batch(items));
      } catch (error) {
        throw inRequest(error, "body");
      }
      const tally = (op: "node" | "edge", created: boolean) =>
        results.filter((r) => r.op === op && r.created === created).length;
      return c.json({
        results: [...results],
        nodes: { created: tally("node", true), updated: tally("node", false) },
        edges: { created: tally("edge", true), updated: tally("edge", false) },
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/cypher",
      summary: "Run a read-only Cypher query (neo4j backend with allowCypher only)",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: s.CypherBody } } },
      },
      responses: {
        200: json(
          z.object({
            columns: z.array(z.string()),
            rows: z.array(z.record(z.string(), z.unknown())),
            truncated: z.boolean(),
          }),
          "Rows, at most maxResults",
        ),
        400: problem("Invalid or writing query"),
        403: problem("Cypher is disabled"),
      },
    }),
    async (c) => {
      if (!options.allowCypher || !driver.features.has("cypher") || !driver.cypher) {
        throw graphError("graph.cypher_disabled", {
          detail: driver.features.has("cypher")
            ? "POST /cypher is off; set allowCypher: true in this instance's config to enable it"
            : "This backend has no Cypher; POST /cypher needs backend: neo4j and allowCypher: true",
        });
      }
      const { query, params } = c.req.valid("json");
      try {
        const result = await driver.cypher(query, params, { maxRows: options.maxResults });
        return c.json({ ...result, columns: [...result.columns], rows: [...result.rows] }, 200);
      } catch (error) {
        throw inRequest(error, "body");
      }
    },
  );

  return app;
}

/** The `where[key]=value` filters of a listing; any other unknown parameter is a 400. */
function filters(
  query: Record<string, unknown>,
  s: ReturnType<typeof graphSchemas>,
): Record<string, string> {
  const where: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    const field = name;
    const match = /^where\[(.*)\]$/.exec(name);
    if (!match) throw invalid(field, `Unknown query parameter "${name.slice(0, 64)}"`);
    const key = match[1]!;
    const keyCheck = s.FilterKey.safeParse(key);
    if (!keyCheck.success) throw invalid(field, keyCheck.error.issues[0]!.message);
    if (typeof value !== "string") throw invalid(field, "Give each filter once");
    const valueCheck = s.FilterValue.safeParse(value);
    if (!valueCheck.success) throw invalid(field, valueCheck.error.issues[0]!.message);
    where[key] = value;
  }
  if (Object.keys(where).length > MAX_FILTERS) {
    throw invalid(undefined, `At most ${MAX_FILTERS} where[...] filters`);
  }
  return where;
}

/** A 400 naming `query.<name>` (or the whole query), like the zod-validated parameters get. */
function invalid(name: string | undefined, message: string): Error {
  const path = name === undefined ? [] : [name];
  return validationError("query", new z.ZodError([{ code: "custom", path, message, input: name }]));
}

function nodeNotFound(ref: { label: string; id: string }, field: string) {
  return graphError("graph.node_not_found", {
    detail: `Node ${ref.label}:${ref.id} does not exist`,
    field,
  });
}

/** Puts a driver error's field under the request part it came from (`from` -> `body.from`). */
function inRequest(error: unknown, part: "body" | "query"): unknown {
  if (!(error instanceof EdgeboxError) || error.field === undefined) return error;
  return error.at(`${part}.${error.field}`);
}

/** The listing a node cursor belongs to: one label (filters may change between pages). */
function listingScope(label: string): string {
  return `graph.nodes:${label}`;
}

/** The last id of the previous page, from its cursor; 400 `graph.cursor_invalid` otherwise. */
function positionOf(cursor: string, scope: string, s: ReturnType<typeof graphSchemas>): string {
  let position: unknown;
  try {
    position = decodeCursor(cursor, scope);
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    throw cursorInvalid(error.message, error);
  }
  if (!s.Id.safeParse(position).success) {
    throw cursorInvalid("The cursor is not one this API returned");
  }
  return position as string;
}

function cursorInvalid(detail: string, cause?: unknown): EdgeboxError {
  return graphError("graph.cursor_invalid", {
    detail,
    field: "query.cursor",
    ...(cause === undefined ? {} : { cause }),
  });
}
