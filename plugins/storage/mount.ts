/**
 * How a storage instance meets HTTP beyond its own sub-app: the routes' options from the plugin
 * context (limits, byte counters), and the public route edgebox-signed URLs point at.
 */
import type { PluginRoutes } from "../../core/http_env.ts";
import type { PluginContext } from "../../core/plugin.ts";
import type { StorageConfig } from "./config.ts";
import type { StorageDriver } from "./driver.ts";
import { presignedRoutes, type StorageRoutesOptions } from "./routes.ts";

/** The options of an instance's routes, from its context (built once, at create). */
export function storageRoutesOptions(ctx: PluginContext<StorageConfig>): StorageRoutesOptions {
  const { config, metrics } = ctx;
  // Two handles on one series are fine: metrics backends keep one family per name.
  const bytesIn = metrics.counter(
    "edgebox_storage_bytes_in_total",
    "Object bytes received from clients",
  );
  const bytesOut = metrics.counter(
    "edgebox_storage_bytes_out_total",
    "Object bytes sent to clients",
  );
  return {
    instance: ctx.name,
    maxObjectSize: config.maxObjectSize,
    maxKeyLength: config.maxKeyLength,
    maxMetadataSize: config.maxMetadataSize,
    maxListLimit: config.maxListLimit,
    defaultListLimit: Math.min(config.defaultListLimit, config.maxListLimit),
    maxPresignExpiry: config.maxPresignExpiry,
    ...(config.backend === "filesystem" && config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    onBytesIn: (bytes) => bytesIn.inc(undefined, bytes),
    onBytesOut: (bytes) => bytesOut.inc(undefined, bytes),
  };
}

/**
 * `/v1/<instance>/presigned` as a public route under the instance's mount (the signature is its
 * credential), where the driver signs URLs itself; none where the service signs them (S3).
 */
export function presignedRootRoutes(
  driver: StorageDriver,
  ctx: PluginContext<StorageConfig>,
): { routes: PluginRoutes } | undefined {
  if (!driver.features.has("presign_edgebox")) return undefined;
  return { routes: presignedRoutes(driver, storageRoutesOptions(ctx)) };
}
