/**
 * Presigned URLs: `POST /presign` signs one, and the public root route they point at
 * (`/v1/<instance>/presigned`) reads or writes the object once the signature checks out.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { PluginRoutes } from "../../../core/http_env.ts";
import { jsonResponse, problemResponse } from "../../../core/openapi.ts";
import { createRouter, validationError } from "../../../core/routes.ts";
import type { StorageDriver } from "../driver.ts";
import { assertKey } from "../keys.ts";
import { objectHandlers, type StorageContext } from "./object_handlers.ts";
import type { StorageRoutesOptions } from "./options.ts";

/**
 * Where edgebox-signed URLs point: a public root route, outside `/v1/` because the core's mount
 * table reserves every `/v1/` path for plugin mounts (which always need an API key).
 */
export function presignedPath(options: Pick<StorageRoutesOptions, "instance">): string {
  return `/v1/${options.instance}/presigned`;
}

/** Registers `POST /presign` on `app`. */
export function registerPresignRoutes(
  app: PluginRoutes,
  driver: StorageDriver,
  options: StorageRoutesOptions,
): void {
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
