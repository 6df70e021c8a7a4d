/** `GET /objects`: objects under a prefix, grouped by a delimiter, one page at a time. */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { decodeListCursor, encodeCursor, listingScope } from "../cursor.ts";
import type { StorageDriver } from "../driver.ts";
import { hasControl, utf8Length } from "../keys.ts";
import type { StorageRoutesOptions } from "./options.ts";

/** Registers the listing route on `app`. */
export function registerListingRoutes(
  app: PluginRoutes,
  driver: StorageDriver,
  options: StorageRoutesOptions,
): void {
  const ListQuery = z.object({
    prefix: z.string().default("").refine(
      (p) => utf8Length(p) <= options.maxKeyLength && !hasControl(p),
      `At most ${options.maxKeyLength} bytes, no control characters`,
    ),
    delimiter: z.string().min(1).max(16).refine((d) => !hasControl(d), {
      message: "No control characters",
    }).optional(),
    // Bounded where it is decoded: an empty or overlong one is storage.cursor_invalid.
    cursor: z.string().optional().openapi({
      description:
        "The previous page's `cursor`, unchanged (opaque; bound to this prefix and delimiter)",
    }),
    limit: z.coerce.number().int().min(1).max(options.maxListLimit)
      .default(options.defaultListLimit),
  });
  const ListResult = z.object({
    objects: z.array(z.object({
      key: z.string(),
      size: z.number(),
      etag: z.string(),
      lastModified: z.string(),
    })),
    prefixes: z.array(z.string()),
    cursor: z.string().nullable().openapi({
      description: "Pass it back for the next page; null on the last page",
    }),
  }).openapi("ObjectList");
  // Which listing a cursor belongs to: fixed parts once here, prefix and delimiter per request.
  const listing = `storage.objects:${options.instance}:${driver.backend}`;

  app.openapi(
    createRoute({
      method: "get",
      path: "/objects",
      summary: "List objects under a prefix, grouping by delimiter, one page at a time",
      tags: ["storage"],
      request: { query: ListQuery },
      responses: {
        200: jsonResponse(ListResult, "A page"),
        400: problemResponse("Bad query or cursor"),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const scope = listingScope(listing, query.prefix, query.delimiter ?? "");
      const page = await driver.list({
        prefix: query.prefix,
        limit: query.limit,
        ...(query.delimiter ? { delimiter: query.delimiter } : {}),
        ...(query.cursor === undefined ? {} : { cursor: decodeListCursor(query.cursor, scope) }),
      });
      return c.json({
        objects: page.objects.map((o) => ({
          key: o.key,
          size: o.size,
          etag: o.etag,
          lastModified: o.lastModified.toISOString(),
        })),
        prefixes: page.prefixes,
        cursor: page.cursor === undefined ? null : encodeCursor(scope, page.cursor),
      }, 200);
    },
  );
}
