/**
 * The storage plugin: objects behind one streaming HTTP API, on an S3-compatible service or a
 * directory on local disk. Uploads stream through, so the instance's body limit is the object
 * size limit rather than the server's JSON-sized default.
 */
import { lazyDriver } from "../../core/lazy.ts";
import { defineBackend, definePlugin } from "../../core/plugin.ts";
import { S3StorageConfig } from "./config.ts";
import type { StorageDriver, StorageFeature } from "./driver.ts";
import { filesystemBackend } from "./filesystem.ts";
import { presignedRootRoutes, storageRoutesOptions } from "./mount.ts";
import { storageRoutes } from "./routes.ts";

/** The storage plugin definition. */
export const storagePlugin = definePlugin({
  type: "storage",
  description:
    "Object storage with streamed uploads and downloads, ranges, listing, copy and presigned URLs",
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
