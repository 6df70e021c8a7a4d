/**
 * Config of the storage plugin: one discriminated union over `backend` (an S3-compatible service,
 * or a directory on local disk), with the limits both share.
 */
import { z } from "zod";
import { duration, size } from "../../core/units.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** The longest a presigned URL may live: S3's own SigV4 ceiling (7 days). */
export const MAX_PRESIGN_SECONDS = 604_800;

/** Limits every backend enforces the same way. */
const limits = {
  /** Largest object accepted; uploads stream, so this is not a memory bound. */
  maxObjectSize: size().pipe(z.number().int().min(1).max(5 * 2 ** 40)).default(5 * GiB),
  /** Longest key, in bytes of UTF-8 (S3 allows 1024). */
  maxKeyLength: z.number().int().min(1).max(1024).default(1024),
  /** Total size of `X-Meta-*` names and values (S3 allows 2KiB). */
  maxMetadataSize: size().pipe(z.number().int().min(0).max(8192)).default(2048),
  /** Largest `limit` of one listing page. */
  maxListLimit: z.number().int().min(1).max(1000).default(1000),
  /** `limit` of a listing page when the request leaves it out. */
  defaultListLimit: z.number().int().min(1).max(1000).default(100),
  /** Longest lifetime of a presigned URL, in seconds. */
  maxPresignExpiry: z.number().int().min(1).max(MAX_PRESIGN_SECONDS).default(MAX_PRESIGN_SECONDS),
};

const S3_BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** An S3-compatible service (AWS S3, MinIO, R2...) through the AWS SDK. */
export const S3StorageConfig = z.strictObject({
  backend: z.literal("s3"),
  /** Service URL; leave out for AWS S3 itself. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  region: z.string().min(1).max(64).default("us-east-1"),
  bucket: z.string().regex(S3_BUCKET, "Expected an S3 bucket name (3-63 of a-z 0-9 . -)"),
  /** Left out (with `secretAccessKey`): the SDK's default credential chain. */
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO needs. */
  forcePathStyle: z.boolean().default(false),
  /** Create the bucket at start when it is missing. */
  createBucket: z.boolean().default(false),
  /** Multipart part size: memory per upload is about `partSize * (uploadConcurrency + 1)`. */
  partSize: size().pipe(z.number().int().min(5 * MiB).max(5 * GiB)).default(8 * MiB),
  /** Parts of one upload in flight at once. */
  uploadConcurrency: z.number().int().min(1).max(16).default(4),
  /** Longest wait for a TCP connection. */
  connectTimeout: duration().default(3_000),
  /** Longest wait from sending a request to its response headers (a part upload included). */
  requestTimeout: duration().default(60_000),
  /** Longest silence on an open connection, body transfers included. */
  idleTimeout: duration().default(30_000),
  /** Attempts per backend call (the SDK retries with backoff). */
  maxAttempts: z.number().int().min(1).max(10).default(3),
  ...limits,
}).refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
  message: "Set accessKeyId and secretAccessKey together, or neither",
  path: ["secretAccessKey"],
});

/** A directory on local disk: nothing to run besides edgebox. */
export const FilesystemStorageConfig = z.strictObject({
  backend: z.literal("filesystem"),
  /**
   * Directory holding `objects/`, `blobs/` and `tmp/`; created at start. Left out, it is
   * `<server.dataDir>/<instance>` (so `./data/storage` by default), locked with the data directory.
   */
  root: z.string().min(1).optional(),
  /** fsync each object before it becomes visible, so a crash cannot leave it half-written. */
  fsync: z.boolean().default(true),
  /**
   * Key that signs presigned URLs (at least 32 characters). Left out, a random key is made per
   * process, so URLs stop working when edgebox restarts.
   */
  presignSecret: z.string().min(32, "presignSecret needs at least 32 characters").optional(),
  /**
   * Base URL clients reach edgebox at, for presigned URLs. Left out, presigned URLs are
   * path-relative (`/v1/<instance>/presigned?...`): edgebox never signs the request's `Host`.
   */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  ...limits,
});

/** Validated storage config. */
export const StorageConfig = z.discriminatedUnion("backend", [
  S3StorageConfig,
  FilesystemStorageConfig,
]);

/** Validated storage config. */
export type StorageConfig = z.output<typeof StorageConfig>;
/** Validated config of the s3 backend. */
export type S3StorageConfig = z.output<typeof S3StorageConfig>;
/** Validated config of the filesystem backend. */
export type FilesystemStorageConfig = z.output<typeof FilesystemStorageConfig>;
