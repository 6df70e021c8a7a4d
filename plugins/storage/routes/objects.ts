/**
 * `/objects/{key}`: store, read, delete and copy an object. Keys contain `/`, which OpenAPI path
 * parameters cannot express: the handlers use Hono's regex parameter and the docs register each
 * path by hand.
 */
import { z } from "@hono/zod-openapi";
import { coreError } from "../../../core/errors.ts";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { validationError } from "../../../core/routes.ts";
import type { StorageDriver } from "../driver.ts";
import { storageError } from "../errors.ts";
import { assertKey } from "../keys.ts";
import { STORED_HEADERS } from "../object_headers.ts";
import { conditionsOf, objectHandlers, type StorageContext } from "./object_handlers.ts";
import type { StorageRoutesOptions } from "./options.ts";

const Written = z.object({ key: z.string(), size: z.number(), etag: z.string() })
  .openapi("StoredObject");

const KeyPath = z.object({
  key: z.string().openapi({
    description: "Object key: 1-1024 bytes of UTF-8, `/`-separated, no `..`, `\\` or controls",
    example: "builds/2024/app.tar.gz",
  }),
});

/** Any key, control characters included, so a bad key reaches validation (400, not 404). */
const ANY = "[\\s\\S]+";

/** Conditional headers that describe an object the route does not have. */
const CONDITION_HEADERS = {
  "if-match": z.string().optional().openapi({
    description: "Entity tags (or *): act only if the current object has one (strong compare)",
  }),
  "if-none-match": z.string().optional().openapi({
    description: "Entity tags (or *): act only if the current object has none (weak compare)",
  }),
  "if-unmodified-since": z.string().optional().openapi({
    description: "HTTP date: act only if the object has not changed since",
  }),
};

/** The standard headers a PUT stores with the object, and GET and HEAD answer with. */
const STORED_HEADER_DOCS = {
  "cache-control": z.string().max(STORED_HEADERS.cacheControl.maxLength).optional().openapi({
    description: "Stored and sent back on reads (printable ASCII)",
  }),
  "content-disposition": z.string().max(STORED_HEADERS.contentDisposition.maxLength).optional()
    .openapi({ description: "Stored and sent back on reads (printable ASCII)" }),
  "content-encoding": z.string().max(STORED_HEADERS.contentEncoding.maxLength).optional()
    .openapi({
      description: "Content codings (gzip, br...) of the body as sent; stored and sent back " +
        "as they are: edgebox never decodes the body",
    }),
  "content-language": z.string().max(STORED_HEADERS.contentLanguage.maxLength).optional()
    .openapi({ description: "Language tags; stored and sent back on reads" }),
  "expires": z.string().optional().openapi({
    description: "An IMF-fixdate (Wed, 21 Oct 2026 07:28:00 GMT); stored and sent back on reads",
  }),
};

/** Registers the object routes on `app`: PUT, GET (and HEAD), DELETE, and copy. */
export function registerObjectRoutes(
  app: PluginRoutes,
  driver: StorageDriver,
  options: StorageRoutesOptions,
): void {
  const handlers = objectHandlers(driver, options);
  const keyOf = (c: StorageContext): string => {
    const key = c.req.param("key") ?? "";
    assertKey(key, options.maxKeyLength, "path.key");
    return key;
  };

  app.openAPIRegistry.registerPath({
    method: "put",
    path: "/objects/{key}",
    summary:
      "Store an object (streamed); X-Meta-* headers become metadata, and Cache-Control, Content-Disposition, Content-Encoding, Content-Language and Expires are stored with it",
    tags: ["storage"],
    request: {
      params: KeyPath,
      headers: z.object({
        "content-md5": z.string().optional(),
        "x-checksum-sha256": z.string().optional(),
        ...STORED_HEADER_DOCS,
        ...CONDITION_HEADERS,
      }),
      body: {
        content: {
          "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
        },
      },
    },
    responses: {
      201: jsonResponse(Written, "Stored"),
      400: problemResponse("Bad key, metadata, checksum, stored or conditional header"),
      412: problemResponse("A condition does not hold (field names the header)"),
      413: problemResponse("Larger than maxObjectSize"),
    },
  });
  app.put(`/objects/:key{${ANY}}`, (c) => handlers.write(c, keyOf(c)));

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/objects/{key}",
    summary: "Read an object (streamed); Range, If-Range and the conditional headers apply",
    tags: ["storage"],
    request: {
      params: KeyPath,
      headers: z.object({
        ...CONDITION_HEADERS,
        "if-modified-since": z.string().optional(),
        "if-range": z.string().optional().openapi({
          description: "A strong entity tag or an HTTP date: the Range applies only if it holds",
        }),
      }),
    },
    responses: {
      200: {
        description: "The object",
        content: {
          "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
        },
      },
      206: { description: "Part of the object (Content-Range)" },
      304: { description: "Not modified" },
      400: problemResponse("Bad key or conditional header"),
      404: problemResponse("No such object"),
      412: problemResponse("If-Match or If-Unmodified-Since failed"),
      416: problemResponse("Range not satisfiable"),
    },
  });
  app.get(`/objects/:key{${ANY}}`, (c) => handlers.read(c, keyOf(c)));

  app.openAPIRegistry.registerPath({
    method: "delete",
    path: "/objects/{key}",
    summary: "Delete an object (idempotent unless a condition asks for an object)",
    tags: ["storage"],
    request: { params: KeyPath, headers: z.object(CONDITION_HEADERS) },
    responses: {
      204: { description: "Gone (or never there)" },
      400: problemResponse("Bad key or conditional header"),
      412: problemResponse("A condition does not hold"),
    },
  });
  app.delete(`/objects/:key{${ANY}}`, async (c) => {
    const key = keyOf(c);
    await driver.delete(key, conditionsOf(c, "DELETE"));
    return c.body(null, 204);
  });

  const CopyBody = z.object({ to: z.string().min(1) }).strict().openapi("CopyRequest");
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/objects/{key}/copy",
    summary:
      "Copy an object server-side, with its content type, metadata and stored headers; conditional headers apply to the destination",
    tags: ["storage"],
    request: {
      params: KeyPath,
      headers: z.object(CONDITION_HEADERS),
      body: { required: true, content: { "application/json": { schema: CopyBody } } },
    },
    responses: {
      201: jsonResponse(Written, "Copied"),
      400: problemResponse(
        "Bad key, body or conditional header (x-amz-copy-source-if-* is refused)",
      ),
      404: problemResponse("No such source object"),
      412: problemResponse("A condition on the destination does not hold"),
    },
  });
  app.post(`/objects/:key{${ANY}}/copy`, async (c) => {
    const from = keyOf(c);
    for (const name of c.req.raw.headers.keys()) {
      // S3-style source conditions: edgebox does not honour them, so it must not ignore them.
      if (name.startsWith("x-amz-copy-source-if-")) {
        throw storageError("storage.condition_invalid", {
          detail: `header.${name}: Conditions on the copy source are not supported`,
          field: `header.${name}`,
        });
      }
    }
    const conditions = conditionsOf(c, "COPY");
    let json: unknown;
    try {
      json = await c.req.json();
    } catch (error) {
      throw coreError("core.bad_request", {
        detail: 'Expected a JSON body such as {"to": "other/key"}',
        field: "body",
        cause: error,
      });
    }
    const parsed = CopyBody.safeParse(json);
    if (!parsed.success) throw validationError("json", parsed.error);
    const { to } = parsed.data;
    assertKey(to, options.maxKeyLength, "body.to");
    if (to === from) {
      throw storageError("storage.key_invalid", {
        detail: "A copy needs a destination other than its source",
        field: "body.to",
      });
    }
    return c.json(await driver.copy(from, to, conditions), 201);
  });
}
