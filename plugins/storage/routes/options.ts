/** The options the storage routes (`storageRoutes`, `presignedRoutes`) are built with. */

/** Options of the storage routes and of the presigned-URL root route. */
export interface StorageRoutesOptions {
  /** Instance name: the core mounts the routes at `/v1/<instance>`. */
  instance: string;
  maxObjectSize: number;
  maxKeyLength: number;
  maxMetadataSize: number;
  maxListLimit: number;
  defaultListLimit: number;
  /** Longest presigned URL lifetime, in seconds. */
  maxPresignExpiry: number;
  /**
   * Base URL clients reach edgebox at, for edgebox-signed URLs. Left out, those URLs are
   * path-relative (`/v1/<instance>/presigned?...`): the request's `Host` is the client's
   * say-so and never goes into a signed URL.
   */
  publicUrl?: string;
  /** Bytes received into objects (metrics). */
  onBytesIn?: (bytes: number) => void;
  /** Bytes sent out of objects (metrics). */
  onBytesOut?: (bytes: number) => void;
}
