/**
 * What a request to a plugin's mount (`/v1/<instance>/...`) passes before it is routed: a body
 * within the mount's limit (413 otherwise) and a plugin that is ready (503 with `Retry-After`
 * otherwise). Checked synchronously in front of the Hono app rather than as two middlewares
 * on every mount, each of which would add an awaited step to every plugin request.
 */
import { coreError, type EdgeboxError } from "./errors.ts";
import { retryAfterSeconds } from "./health.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** A request cleared to be routed to its plugin. */
export interface GuardedRequest {
  /** The request to route: the original, or one whose streamed body is counted. */
  request: Request;
  /**
   * For a streamed body (no `Content-Length`), counted as it is read: after the route answered,
   * the 413 to send instead when it ran over. Absent when nothing needs checking afterwards.
   */
  overLimit?: () => EdgeboxError | undefined;
}

/** Options of {@linkcode createMountGuard}. */
export interface MountGuardOptions {
  lifecycle: Lifecycle;
  /** Instance name -> request body limit (bytes), for every instance that mounts routes. */
  bodyLimits: ReadonlyMap<string, number>;
  /** True once a stop signal arrived. */
  shuttingDown: () => boolean;
}

/** The instance a path is under (`/v1/cache/keys/a` -> `cache`), if any. */
function instanceOf(path: string): string | undefined {
  if (!path.startsWith("/v1/")) return undefined;
  const end = path.indexOf("/", 4);
  return end === -1 ? path.slice(4) : path.slice(4, end);
}

/**
 * Builds the guard: `undefined` for a path outside every mount; throws the 413 or 503 problem;
 * otherwise the request to route.
 */
export function createMountGuard(
  options: MountGuardOptions,
): (path: string, request: Request) => GuardedRequest | undefined {
  const { lifecycle, bodyLimits, shuttingDown } = options;
  return function guardMount(path, request) {
    const name = instanceOf(path);
    const limit = name === undefined ? undefined : bodyLimits.get(name);
    if (name === undefined || limit === undefined) return undefined;
    const guarded = limitBody(request, limit);
    const plugin = lifecycle.get(name)!;
    if (plugin.state === "ready") return guarded;
    if (shuttingDown()) {
      throw coreError("core.shutting_down", {
        detail: "edgebox is shutting down",
        headers: { "Retry-After": "1" },
      });
    }
    throw coreError("core.plugin_unavailable", {
      detail: `Plugin "${name}" is ${plugin.state}${plugin.detail ? `: ${plugin.detail}` : ""}`,
      headers: { "Retry-After": String(retryAfterSeconds(plugin)) },
      extra: { plugin: name, state: plugin.state },
    });
  };
}

/**
 * 413 past `limit` bytes: at once from `Content-Length`, and while the body streams otherwise
 * (chunked uploads). Unlike a buffering limit, a gigabyte upload to a plugin that streams it
 * (storage) never sits in memory here.
 */
function limitBody(request: Request, limit: number): GuardedRequest {
  const tooLarge = () =>
    coreError("core.body_too_large", {
      detail: `The request body exceeds the limit of ${limit} bytes`,
      field: "body",
      extra: { limit },
    });
  if (!request.body) return { request };
  const length = request.headers.get("content-length");
  if (length !== null && !request.headers.has("transfer-encoding")) {
    if (Number(length) > limit) throw tooLarge();
    return { request };
  }
  let seen = 0;
  let exceeded = false;
  const counted = request.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) {
          exceeded = true;
          controller.error(tooLarge());
        } else controller.enqueue(chunk);
      },
    }),
  );
  return {
    // Built from its parts rather than from `request`, whose `signal` that would read: Deno warns
    // on every such read about its legacy abort behaviour. A client that goes away mid-body
    // still ends the upload: the body stream fails.
    request: new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: counted,
      duplex: "half",
    } as RequestInit),
    // Whatever the route made of the failed read (a JSON error, a 500), the cause was the size.
    overLimit: () => (exceeded ? tooLarge() : undefined),
  };
}
