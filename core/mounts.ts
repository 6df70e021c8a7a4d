/**
 * The mount table: for every serving plugin instance, computed when the app is built (at start and
 * at each reload, which builds a new app over the new serving set), where its routes live
 * (`/v1/<instance>`), the body limit they accept, the scopes they need and the routes it mounts
 * at the root (`/metrics`). Auth, the mount guard, routing and the docs all read this one table.
 * A root route that collides with a core path, another instance's mount or another instance's root
 * route is refused here, before edgebox listens. A root route under the instance's own mount
 * (`/v1/storage/presigned`, public because a signature replaces the key) is its own.
 */
import type { PluginRoutes } from "./http_env.ts";
import type { Lifecycle, ManagedPlugin } from "./lifecycle.ts";

/** Paths the core answers itself. */
export const CORE_PATHS: ReadonlySet<string> = new Set([
  "/health",
  "/ready",
  "/plugins",
  "/openapi.json",
  "/docs",
]);

/** The scope rule of one instance: the scope a route needs (`undefined`: the default). */
export type RouteScope = (method: string, path: string) => string | undefined;

/** Where one instance's routes live and what they accept. */
export interface Mount {
  /** Instance name. */
  name: string;
  /** The instance serving the mount. */
  plugin: ManagedPlugin;
  /** `/v1/<name>`. */
  prefix: string;
  /** Its routes, when it has any. */
  routes: PluginRoutes | undefined;
  /** Largest request body its routes accept. */
  bodyLimit: number;
  /** Scopes of its routes that differ from `<name>:read` / `<name>:write`. */
  routeScope: RouteScope | undefined;
  /** Routes it mounts at the root, with the scope they need (`undefined`: public). */
  rootRoutes: { routes: PluginRoutes; scope: string | undefined } | undefined;
}

/** Thrown when two mounts claim one path. */
export class MountConflictError extends Error {
  override readonly name = "MountConflictError";
}

/** Builds the table; throws {@linkcode MountConflictError} on a path claimed twice. */
export function mountTable(lifecycle: Lifecycle, defaultBodyLimit: number): Mount[] {
  const claimed = new Map<string, string>();
  return lifecycle.plugins.map((plugin) => {
    const { instance, name } = plugin;
    const root = instance.rootRoutes;
    for (const route of root?.routes.routes ?? []) {
      if (route.method === "ALL") continue; // middleware, not a route
      // Under its own mount is its own (a public route there, such as signed URLs, still passes
      // the mount's body limit and availability gate); anywhere else under /v1/ is not.
      const own = route.path === `/v1/${name}` || route.path.startsWith(`/v1/${name}/`);
      const owner = CORE_PATHS.has(route.path) || (route.path.startsWith("/v1/") && !own)
        ? "the core"
        : claimed.get(route.path);
      if (owner !== undefined && owner !== name) {
        throw new MountConflictError(
          `Plugin "${name}" mounts ${route.path}, which ${
            owner === "the core" ? "the core serves" : `plugin "${owner}" mounts too`
          }`,
        );
      }
      claimed.set(route.path, name);
    }
    return {
      name,
      plugin,
      prefix: `/v1/${name}`,
      routes: instance.routes,
      bodyLimit: instance.bodyLimit ?? defaultBodyLimit,
      routeScope: instance.routeScope,
      rootRoutes: root ? { routes: root.routes, scope: root.scope } : undefined,
    };
  });
}
