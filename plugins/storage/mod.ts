/**
 * The storage plugin: objects behind one streaming HTTP API, on an S3-compatible service or a
 * directory on local disk. Uploads stream through, so the instance's body limit is the object
 * size limit rather than the server's JSON-sized default.
 */
import { lazyPlugin } from "../../core/lazy_plugin.ts";
import { FilesystemStorageConfig, S3StorageConfig, type StorageConfig } from "./config.ts";
import type { StorageDriver } from "./driver.ts";

/** The storage plugin definition; its implementation (`plugin.ts`) loads when an instance is enabled. */
export const storagePlugin = lazyPlugin<StorageConfig, StorageDriver>({
  type: "storage",
  description:
    "Object storage with streamed uploads and downloads, ranges, listing, copy and presigned URLs",
  config: { s3: S3StorageConfig, filesystem: FilesystemStorageConfig },
  load: async () => (await import("./plugin.ts")).storageImplementation,
});
