/**
 * The storage plugin: objects behind one streaming HTTP API, on an S3-compatible service or a
 * directory on local disk. Uploads stream through, so the instance's body limit is the object
 * size limit rather than the server's JSON-sized default.
 */
import { definePlugin } from "../../core/plugin.ts";
import { StorageConfig } from "./config.ts";
import type { StorageDriver } from "./driver.ts";
import { FilesystemStorage } from "./filesystem.ts";
import { presignedRoutes, storageRoutes, type StorageRoutesOptions } from "./routes.ts";
import { S3Storage } from "./s3.ts";

/** The storage plugin definition. */
export const storagePlugin = definePlugin({
  type: "storage",
  description:
    "Object storage with streamed uploads and downloads, ranges, listing, copy and presigned URLs",
  config: StorageConfig,
  requires: [],
  create(ctx) {
    const config = ctx.config;
    let driver: StorageDriver;
    if (config.backend === "s3") {
      driver = new S3Storage({
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        region: config.region,
        bucket: config.bucket,
        ...(config.accessKeyId && config.secretAccessKey
          ? {
            credentials: {
              accessKeyId: config.accessKeyId,
              secretAccessKey: config.secretAccessKey,
            },
          }
          : {}),
        forcePathStyle: config.forcePathStyle,
        createBucket: config.createBucket,
        partSize: config.partSize,
        uploadConcurrency: config.uploadConcurrency,
        connectTimeout: config.connectTimeout,
        requestTimeout: config.requestTimeout,
        idleTimeout: config.idleTimeout,
        maxAttempts: config.maxAttempts,
        maxObjectSize: config.maxObjectSize,
        maxKeyLength: config.maxKeyLength,
      });
    } else {
      if (!config.presignSecret) {
        ctx.log.warn(
          "presignSecret is not set: presigned URLs are signed with a per-process key and stop working when edgebox restarts",
        );
      }
      driver = new FilesystemStorage({
        root: config.root,
        fsync: config.fsync,
        maxObjectSize: config.maxObjectSize,
        maxKeyLength: config.maxKeyLength,
        presign: {
          ...(config.presignSecret
            ? { secret: new TextEncoder().encode(config.presignSecret) }
            : {}),
          scope: ctx.name,
        },
      });
    }
    const instrumented = ctx.instrument(driver, { system: config.backend });
    const bytesIn = ctx.metrics.counter(
      "edgebox_storage_bytes_in_total",
      "Object bytes received from clients",
    );
    const bytesOut = ctx.metrics.counter(
      "edgebox_storage_bytes_out_total",
      "Object bytes sent to clients",
    );
    const options: StorageRoutesOptions = {
      instance: ctx.name,
      maxObjectSize: config.maxObjectSize,
      maxKeyLength: config.maxKeyLength,
      maxMetadataSize: config.maxMetadataSize,
      maxListLimit: config.maxListLimit,
      defaultListLimit: Math.min(config.defaultListLimit, config.maxListLimit),
      maxPresignExpiry: config.maxPresignExpiry,
      ...(config.backend === "filesystem" && config.publicUrl
        ? { publicUrl: config.publicUrl }
        : {}),
      onBytesIn: (bytes) => bytesIn.inc(undefined, bytes),
      onBytesOut: (bytes) => bytesOut.inc(undefined, bytes),
    };
    return {
      routes: storageRoutes(instrumented, options),
      // Edgebox-signed URLs carry their own credential, so their route needs no API key.
      ...(driver.features.has("presign_edgebox")
        ? { rootRoutes: { routes: presignedRoutes(instrumented, options) } }
        : {}),
      start: () => driver.connect(),
      ready: () => driver.ping(),
      stop: () => driver.close(),
      exports: instrumented,
      bodyLimit: config.maxObjectSize,
    };
  },
});
