/** `POST /batch` (many upserts in one transaction) and `POST /cypher` (a read-only query). */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse as json, problemResponse as problem } from "../../../core/openapi.ts";
import type { GraphDriver } from "../driver.ts";
import { graphError } from "../errors.ts";
import { type GraphResourceOptions, TAGS } from "./options.ts";
import { inRequest } from "./request_errors.ts";

/** Registers the batch and Cypher routes on `app`. */
export function registerBatchRoutes(
  app: PluginRoutes,
  driver: GraphDriver,
  options: GraphResourceOptions,
): void {
  const s = options.schemas;

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
}
