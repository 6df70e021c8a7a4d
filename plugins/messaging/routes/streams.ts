/** `/streams`: list, read, create or update, and delete streams. */
import { createRoute, z } from "@hono/zod-openapi";
import { encodeCursor } from "../../../core/cursor.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { ResourceName, withoutUndefined } from "../config.ts";
import type { MessagingDriver } from "../driver.ts";
import {
  pageQuery,
  StreamBody,
  StreamInfoSchema,
  StreamListSchema,
  streamView,
} from "../schemas.ts";
import { cursorAfter } from "./cursor.ts";
import { messagingHook, TAGS } from "./openapi.ts";
import type { MessagingRoutesOptions } from "./options.ts";

/** Registers the stream routes on `app`. */
export function registerStreamRoutes(
  app: PluginRoutes,
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): void {
  const StreamParam = z.object({
    name: ResourceName.openapi({ param: { name: "name", in: "path" }, example: "orders" }),
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/streams",
      summary: "List streams with their config and state",
      tags: TAGS,
      request: { query: pageQuery(options.maxPageSize) },
      responses: {
        200: jsonResponse(StreamListSchema, "A page of streams, by name"),
        400: problemResponse("Invalid limit or cursor"),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const scope = `${options.instance}/streams`;
      const after = cursorAfter(cursor, scope);
      const { streams, more } = await driver.listStreams(
        after === undefined ? { limit } : { limit, after },
      );
      const next = more ? encodeCursor(scope, streams.at(-1)!.config.name) : null;
      return c.json({ streams: streams.map(streamView), cursor: next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/streams/{name}",
      summary: "A stream's config and state",
      tags: TAGS,
      request: { params: StreamParam },
      responses: {
        200: jsonResponse(StreamInfoSchema, "The stream"),
        404: problemResponse("No such stream"),
      },
    }),
    async (c) => c.json(streamView(await driver.streamInfo(c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/streams/{name}",
      summary: "Create or update a stream",
      tags: TAGS,
      request: {
        params: StreamParam,
        body: { required: true, content: { "application/json": { schema: StreamBody } } },
      },
      responses: {
        200: jsonResponse(StreamInfoSchema, "Updated"),
        201: jsonResponse(StreamInfoSchema, "Created"),
        409: problemResponse("Subjects overlap another stream, or retention/storage would change"),
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const body = withoutUndefined(c.req.valid("json"));
      const { info, created } = await driver.putStream({ ...body, name });
      return c.json(streamView(info), created ? 201 : 200);
    },
    messagingHook,
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/streams/{name}",
      summary: "Delete a stream with its messages and consumers",
      tags: TAGS,
      request: { params: StreamParam },
      responses: { 204: { description: "Deleted" }, 404: problemResponse("No such stream") },
    }),
    async (c) => {
      await driver.deleteStream(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );
}
