/**
 * What a request to a plugin's mount (`/v1/<instance>/...`) passes before it is routed: a plugin
 * that is ready (503 with `Retry-After` otherwise) and a body within the mount's limits
 * (`core/request_body.ts`: 413 past the size, 408 when it stalls, 400 for bad JSON). Checked synchronously in front of the Hono app rather than as two middlewares
 * on every mount, each of which would add an awaited step to every plugin request.
 */
import { coreError } from "./errors.ts";
import { retryAfterSeconds } from "./health.ts";
import type { ManagedPlugin } from "./lifecycle.ts";
import { guardBody, type GuardedBody, type StallWatch } from "./request_body.ts";

/** Options of {@linkcode createMountGuard}. */
export interface MountGuardOptions {
  /** Instance name -> the instance the app routes to (captured when the app was built). */
  plugins: ReadonlyMap<string, ManagedPlugin>;
  /** Instance name -> request body limit (bytes), for every instance that mounts routes. */
  bodyLimits: ReadonlyMap<string, number>;
  /** Deepest JSON nesting accepted in a request body. */
  maxJsonDepth: number;
  /** Fails request bodies that stall. */
  stalls: StallWatch;
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
 * Builds the guard: `undefined` for a path outside every mount or a request without a body;
 * throws the 413 or 503 problem; otherwise the guarded body, which says after routing whether a
 * failure of the route was the body's fault.
 */
export function createMountGuard(
  options: MountGuardOptions,
): (path: string, request: Request) => GuardedBody | undefined {
  const { plugins, bodyLimits, shuttingDown, stalls, maxJsonDepth } = options;
  return function guardMount(path, request) {
    const name = instanceOf(path);
    const limit = name === undefined ? undefined : bodyLimits.get(name);
    if (name === undefined || limit === undefined) return undefined;
    const plugin = plugins.get(name)!;
    if (plugin.state !== "ready") {
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
    }
    return guardBody(request, { limit, maxJsonDepth }, stalls);
  };
}
