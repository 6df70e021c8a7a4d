/** The storage plugin's implementation: its backends, routes and exports (see `mod.ts`). */
import { storagePlugin } from "./mod.ts";
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import { S3StorageConfig } from "./config.ts";
import type { StorageDriver, StorageFeature } from "./driver.ts";
import { filesystemBackend } from "./filesystem.ts";
import { presignedRootRoutes, storageRoutesOptions } from "./mount.ts";
import { storageRoutes } from "./routes.ts";

/** The storage plugin's implementation, loaded by its light definition in `mod.ts`. */
export const storageImplementation: PluginDefinition = definePlugin({
  type: storagePlugin.type,
  description: storagePlugin.description,
  requires: [],
  backends: {
    // The AWS SDK loads only when an S3 instance connects (core/lazy.ts).
    s3: defineBackend({
      config: S3StorageConfig,
      system: "s3",
      create: ({ config }): StorageDriver =>
        lazyDriver<StorageDriver>({
          load: async () => {
            const { S3Storage, s3StorageOptions } = await import("./s3.ts");
            return new S3Storage(s3StorageOptions(config));
          },
          known: { backend: "s3", features: new Set<StorageFeature>(["presign_backend"]) },
        }),
    }),
    filesystem: filesystemBackend,
  },
  routes: (driver, ctx) => storageRoutes(driver, storageRoutesOptions(ctx)),
  api: (driver): StorageDriver => driver,
  bodyLimit: (config) => config.maxObjectSize,
  rootRoutes: presignedRootRoutes,
});
