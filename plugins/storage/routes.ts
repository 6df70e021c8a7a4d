/**
 * HTTP routes of the storage plugin, written only against {@linkcode StorageDriver}. Object
 * bodies stream straight from the request into the driver and from the driver into the
 * response; nothing here holds a whole object.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, PluginRoutes } from "../../core/http_env.ts";
import { coreError } from "../../core/errors.ts";
import { jsonResponse, problemResponse } from "../../core/openapi.ts";
import { createRouter, validationError } from "../../core/routes.ts";
import {
  type ConditionalMethod,
  evaluatePreconditions,
  parsePreconditions,
  preconditionFailed,
  type Preconditions,
} from "./conditions.ts";
import { decodeListCursor, encodeCursor, listingScope } from "./cursor.ts";
import type { StorageDriver } from "./driver.ts";
import { storageError, tooLarge } from "./errors.ts";
import { assertKey, hasControl, utf8Length } from "./keys.ts";
import { notModifiedHeaders, objectHeaders, readPutHeaders } from "./object_headers.ts";
import { parseRange } from "./ranges.ts";
import { checkedBody, countedStream } from "./streams.ts";

/** Options of {@linkcode storageRoutes} and {@linkcode presignedRoutes}. */
export interface StorageRoutesOptions {
  /** Instance name: the core mounts the routes at `/v1/<instance>`. */
  instance: string;
  maxObjectSize: number;
  maxKeyLength: number;
  maxMetadataSize: number;
  maxListLimit: number;
  defaultListLimit: number;
  /** Longest presigned URL lifetime, in seconds. */
  maxPresignExpiry: number;
  /**
   * Base URL clients reach edgebox at, for edgebox-signed URLs. Left out, those URLs are
   * path-relative (`/v1/<instance>/presigned?...`): the request's `Host` is the client's
   * say-so and never goes into a signed URL.
   */
  publicUrl?: string;
  /** Bytes received into objects (metrics). */
  onBytesIn?: (bytes: number) => void;
  /** Bytes sent out of objects (metrics). */
  onBytesOut?: (bytes: number) => void;
}

type StorageContext = Context<AppEnv>;

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

const emptyBody = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/** The request's conditional headers as driver options (nothing when there are none). */
function conditionsOf(
  c: StorageContext,
  method: ConditionalMethod,
): { conditions?: Preconditions } {
  const conditions = parsePreconditions(c.req.raw.headers, method);
  return Object.keys(conditions).length > 0 ? { conditions } : {};
}

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

/**
 * Where the core mounts the instance's routes. Taken once from the instance name (what the core
 * mounts by) rather than per request: the request context carries the path, not the mount.
 */
function mountOf(options: StorageRoutesOptions): string {
  return `/v1/${options.instance}`;
}

/**
 * Where edgebox-signed URLs point: a public root route, outside `/v1/` because the core's mount
 * table reserves every `/v1/` path for plugin mounts (which always need an API key).
 */
export function presignedPath(options: Pick<StorageRoutesOptions, "instance">): string {
  return `/v1/${options.instance}/presigned`;
}

/** The object handlers both the API and presigned URLs use. */
function objectHandlers(driver: StorageDriver, options: StorageRoutesOptions) {
  const objects = `${mountOf(options)}/objects/`;
  return {
    /** GET and HEAD: stream the object (or a range of it) with its headers, or 304. */
    async read(c: StorageContext, key: string): Promise<Response> {
      const method = c.req.raw.method === "HEAD" ? "HEAD" : "GET";
      const conditions = parsePreconditions(c.req.raw.headers, method);
      if (method === "HEAD") {
        const info = await driver.head(key);
        const outcome = evaluatePreconditions(info, conditions, "HEAD");
        if (outcome.kind === "failed") throw preconditionFailed(key, outcome.field);
        if (outcome.kind === "not_modified") {
          return new Response(null, {
            status: 304,
            headers: notModifiedHeaders(info.etag, info.lastModified),
          });
        }
        return new Response(null, { status: 200, headers: objectHeaders(info) });
      }
      const range = parseRange(c.req.raw.headers.get("range"));
      const result = await driver.get(key, {
        conditions,
        ...(range ? { range } : {}),
      });
      if (result.kind === "not_modified") {
        return new Response(null, {
          status: 304,
          headers: notModifiedHeaders(result.etag, result.lastModified),
        });
      }
      const body = options.onBytesOut
        ? countedStream(result.body, options.onBytesOut)
        : result.body;
      return new Response(body, {
        status: result.range ? 206 : 200,
        headers: objectHeaders(result.info, result.range),
      });
    },

    /**
     * PUT: stream the request body into the object, checking size and checksums as it flows;
     * conditional headers are checked against the object replaced, atomically with the write.
     */
    async write(c: StorageContext, key: string): Promise<Response> {
      const request = c.req.raw;
      const put = readPutHeaders(request.headers, options);
      // Parsed before the body flows, so a malformed condition costs no upload.
      const conditions = conditionsOf(c, "PUT");
      const declared = Number(request.headers.get("content-length") ?? "NaN");
      if (declared > options.maxObjectSize) throw tooLarge(options.maxObjectSize);
      const checked = checkedBody(request.body ?? emptyBody(), {
        maxSize: options.maxObjectSize,
        checksums: put.checksums,
        ...(options.onBytesIn ? { onBytes: options.onBytesIn } : {}),
      });
      const written = await driver.put(key, checked.stream, {
        contentType: put.contentType,
        metadata: put.metadata,
        ...conditions,
      });
      return c.json(written, 201, {
        ETag: written.etag,
        Location: objects + key.split("/").map(encodeURIComponent).join("/"),
      });
    },
  };
}

/** Builds the storage sub-app, mounted at `/v1/<instance>`. */
export function storageRoutes(driver: StorageDriver, options: StorageRoutesOptions): PluginRoutes {
  const app = createRouter();
  const handlers = objectHandlers(driver, options);
  const keyOf = (c: StorageContext): string => {
    const key = c.req.param("key") ?? "";
    assertKey(key, options.maxKeyLength, "path.key");
    return key;
  };

  // Keys contain `/`, which OpenAPI path parameters cannot express: the handlers use Hono's
  // regex parameter and the docs register the path by hand.
  app.openAPIRegistry.registerPath({
    method: "put",
    path: "/objects/{key}",
    summary: "Store an object (streamed); X-Meta-* headers become metadata",
    tags: ["storage"],
    request: {
      params: KeyPath,
      headers: z.object({
        "content-md5": z.string().optional(),
        "x-checksum-sha256": z.string().optional(),
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
      400: problemResponse("Bad key, metadata, checksum or conditional header"),
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
      "Copy an object server-side, with its content type and metadata; conditional headers apply to the destination",
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

  // Never the request's Host (or an absolute-form target): a client could point the signed URL
  // at any host it likes. Without publicUrl the URL is path-relative.
  const presignedUrl = `${options.publicUrl?.replace(/\/+$/, "") ?? ""}${presignedPath(options)}`;
  const PresignBody = z.object({
    key: z.string().min(1),
    method: z.enum(["GET", "PUT"]).default("GET"),
    expiresIn: z.number().int().min(1).max(options.maxPresignExpiry).default(900)
      .openapi({ description: "Seconds the URL stays valid" }),
  }).strict().openapi("PresignRequest");
  const Presigned = z.object({
    url: z.string().openapi({
      description: "Absolute, or path-relative on the filesystem backend when publicUrl is unset",
    }),
    method: z.enum(["GET", "PUT"]),
    expiresAt: z.string(),
  }).openapi("PresignedUrl");

  app.openapi(
    createRoute({
      method: "post",
      path: "/presign",
      summary: "A URL that reads or writes one object without an API key, until it expires",
      tags: ["storage"],
      request: {
        body: { required: true, content: { "application/json": { schema: PresignBody } } },
      },
      responses: {
        200: jsonResponse(Presigned, "Signed"),
        400: problemResponse("Bad key or expiry"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      assertKey(body.key, options.maxKeyLength, "body.key");
      const signed = await driver.presign(body.key, {
        method: body.method,
        expiresIn: body.expiresIn,
        routeUrl: presignedUrl,
      });
      return c.json({
        url: signed.url,
        method: signed.method,
        expiresAt: signed.expiresAt.toISOString(),
      }, 200);
    },
  );

  return app;
}

/**
 * The route edgebox-signed URLs point at: `/v1/<instance>/presigned?key=&expires=&signature=`.
 * It is mounted as a public root route (no API key); the signature is the credential. Outside
 * the instance's mount, the core's body guard does not apply: the object handlers bound the
 * body themselves (413 past `maxObjectSize`, before and while it streams).
 */
export function presignedRoutes(
  driver: StorageDriver,
  options: StorageRoutesOptions,
): PluginRoutes {
  const app = createRouter();
  const handlers = objectHandlers(driver, options);
  const path = presignedPath(options);
  const SignedQuery = z.object({
    key: z.string().min(1),
    expires: z.string().max(12),
    signature: z.string().max(64),
  });

  const verified = async (c: StorageContext, method: "GET" | "PUT"): Promise<string> => {
    const parsed = SignedQuery.safeParse(c.req.query());
    if (!parsed.success) throw validationError("query", parsed.error);
    const { key, expires, signature } = parsed.data;
    assertKey(key, options.maxKeyLength, "query.key");
    await driver.verifySignedUrl({ key, method, expires, signature });
    return key;
  };

  app.openAPIRegistry.registerPath({
    method: "get",
    path,
    summary: "Read or (PUT) write an object through a presigned URL (filesystem backend)",
    tags: ["storage"],
    request: { query: SignedQuery },
    responses: {
      200: { description: "The object" },
      403: problemResponse("Bad or expired signature"),
    },
  });
  app.get(path, async (c) => handlers.read(c, await verified(c, "GET")));
  app.put(path, async (c) => handlers.write(c, await verified(c, "PUT")));
  return app;
}
