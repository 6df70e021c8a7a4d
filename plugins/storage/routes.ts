/**
 * HTTP routes of the storage plugin, written only against {@linkcode StorageDriver}. Object
 * bodies stream straight from the request into the driver and from the driver into the
 * response; nothing here holds a whole object. Each resource registers its routes from its own
 * file under `routes/`.
 */
import type { PluginRoutes } from "../../core/http_env.ts";
import { createRouter } from "../../core/routes.ts";
import type { StorageDriver } from "./driver.ts";
import { registerListingRoutes } from "./routes/listing.ts";
import { registerObjectRoutes } from "./routes/objects.ts";
import type { StorageRoutesOptions } from "./routes/options.ts";
import { registerPresignRoutes } from "./routes/presign.ts";

export type { StorageRoutesOptions } from "./routes/options.ts";
export { presignedPath, presignedRoutes } from "./routes/presign.ts";

/** Builds the storage sub-app, mounted at `/v1/<instance>`: objects (and copy), listing, presign. */
export function storageRoutes(driver: StorageDriver, options: StorageRoutesOptions): PluginRoutes {
  const app = createRouter();
  registerObjectRoutes(app, driver, options);
  registerListingRoutes(app, driver, options);
  registerPresignRoutes(app, driver, options);
  return app;
}
