/**
 * The storage plugin: objects behind one streaming HTTP API, on an S3-compatible service or a
 * directory on local disk. Uploads stream through, so the instance's body limit is the object
 * size limit rather than the server's JSON-sized default.
 */
import { definePlugin } from "../../core/plugin.ts";
import type { StorageDriver } from "./driver.ts";
import { filesystemBackend } from "./filesystem.ts";
import { presignedRootRoutes, storageRoutesOptions } from "./mount.ts";
import { storageRoutes } from "./routes.ts";
import { s3Backend } from "./s3.ts";

/** The storage plugin definition. */
export const storagePlugin = definePlugin({
  type: "storage",
  description:
    "Object storage with streamed uploads and downloads, ranges, listing, copy and presigned URLs",
  requires: [],
  backends: { s3: s3Backend, filesystem: filesystemBackend },
  routes: (driver, ctx) => storageRoutes(driver, storageRoutesOptions(ctx)),
  api: (driver): StorageDriver => driver,
  bodyLimit: (config) => config.maxObjectSize,
  rootRoutes: presignedRootRoutes,
});
