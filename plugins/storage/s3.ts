/**
 * The real storage backend: any S3-compatible service (AWS S3, MinIO, R2...) through the AWS
 * SDK. Uploads stream through a pool of part buffers (`s3_multipart.ts`: memory per upload is
 * bounded by `partSize * (uploadConcurrency + 1)` by construction, not by the garbage
 * collector's timing; a failed upload is aborted, so no part stays behind), downloads stream the
 * SDK's response body, and every call has connect, request and idle timeouts plus a bounded
 * number of attempts, so nothing waits forever on a service that is down.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandInput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { EdgeboxError } from "../../core/errors.ts";
import { defineBackend, type HealthReport } from "../../core/plugin.ts";
import { redactText } from "../../core/redact.ts";
import {
  assertWritable,
  type ConditionHeader,
  evaluatePreconditions,
  hasPreconditions,
  preconditionFailed,
  type Preconditions,
  rangeApplies,
} from "./conditions.ts";
import { messageOf } from "../../core/timing.ts";
import { S3StorageConfig } from "./config.ts";
import type {
  CopyOptions,
  DeleteOptions,
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectInfo,
  PresignedUrl,
  PresignOptions,
  PutOptions,
  SignedRequest,
  StorageDriver,
  StorageFeature,
  StoredHeaders,
  WrittenObject,
} from "./driver.ts";
import { notFound, rangeNotSatisfiable, storageError, tooLarge } from "./errors.ts";
import { assertKey } from "./keys.ts";
import { storedHeadersOf } from "./object_headers.ts";
import { formatRange } from "./ranges.ts";
import { checkedBody } from "./streams.ts";
import { uploadStream } from "./s3_multipart.ts";

/** Options of {@linkcode S3Storage}. */
export interface S3StorageOptions {
  /** Service URL; left out for AWS S3. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Left out: the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: boolean;
  /** Create the bucket at connect when it is missing. */
  createBucket: boolean;
  partSize: number;
  uploadConcurrency: number;
  /** Milliseconds to open a connection. */
  connectTimeout: number;
  /** Milliseconds from sending a request to its response headers. */
  requestTimeout: number;
  /** Milliseconds of silence on a connection, body transfers included. */
  idleTimeout: number;
  maxAttempts: number;
  maxObjectSize: number;
  maxKeyLength: number;
  /** Copies larger than this go part by part (S3's CopyObject stops at 5 GiB). */
  multipartCopyThreshold?: number;
}

/** S3 refuses single-request copies above 5 GiB. */
const MAX_COPY_OBJECT = 5 * 2 ** 30;
const MAX_PARTS = 10_000;
const COPY_ATTEMPTS = 3;
/**
 * Longest a health probe waits for its HeadBucket, retries included: under the core's default
 * `timeouts.ready` (2 s), so a service that accepts connections but stopped answering reports
 * itself down by the next probe, and no probe is left running behind it.
 */
const PING_DEADLINE = 1_500;
/** Longest `connect` waits for its HeadBucket beyond opening the connection. */
const CONNECT_PROBE_DEADLINE = 2_000;

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError | null)?.$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string | undefined {
  return (error as SdkError | null)?.name;
}

/** `bucket/key` as CopySource wants it: each key segment URL-encoded. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * A write made conditional on the service: the S3 `If-Match` / `If-None-Match` parameters, and
 * the header a 412 from the service is reported against.
 */
interface WriteGuard {
  params: { IfMatch?: string; IfNoneMatch?: string };
  field: ConditionHeader;
}

/** The header a write's 412 names when the object changed between our check and the write. */
function firstHeader(conditions: Preconditions): ConditionHeader {
  if (conditions.ifMatch !== undefined) return "header.if-match";
  if (conditions.ifUnmodifiedSince !== undefined) return "header.if-unmodified-since";
  return "header.if-none-match";
}

/**
 * A refusal from the service of a write made conditional by `guard`: 412, 409 for a concurrent
 * conditional write, or 404 for `If-Match` on an object that is not there (any more).
 */
function conditionRefused(error: unknown, guard: WriteGuard): boolean {
  const status = statusOf(error);
  return status === 412 || status === 409 ||
    (status === 404 && guard.params.IfMatch !== undefined && nameOf(error) !== "NoSuchBucket");
}

/** The S3 parameters that store `headers` with an object. */
function headerParams(headers: StoredHeaders | undefined) {
  const stored = storedHeadersOf(headers);
  return {
    ...(stored.cacheControl ? { CacheControl: stored.cacheControl } : {}),
    ...(stored.contentDisposition ? { ContentDisposition: stored.contentDisposition } : {}),
    ...(stored.contentEncoding ? { ContentEncoding: stored.contentEncoding } : {}),
    ...(stored.contentLanguage ? { ContentLanguage: stored.contentLanguage } : {}),
    // The SDK writes a Date back with toUTCString: the same text, as writes only take that form.
    ...(stored.expires ? { Expires: new Date(stored.expires) } : {}),
  };
}

/** The stored headers of a HeadObject or GetObject answer (`ExpiresString` is the raw text). */
function storedHeadersFrom(output: {
  CacheControl?: string | undefined;
  ContentDisposition?: string | undefined;
  ContentEncoding?: string | undefined;
  ContentLanguage?: string | undefined;
  ExpiresString?: string | undefined;
}): StoredHeaders {
  return storedHeadersOf({
    cacheControl: output.CacheControl,
    contentDisposition: output.ContentDisposition,
    contentEncoding: output.ContentEncoding,
    contentLanguage: output.ContentLanguage,
    expires: output.ExpiresString,
  });
}

/** Total object size from `Content-Range: bytes a-b/size`. */
function totalSize(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)$/.exec(contentRange ?? "");
  return match ? Number(match[1]) : undefined;
}

/** Objects in an S3 bucket. */
export class S3Storage implements StorageDriver {
  readonly backend = "s3";
  readonly features: ReadonlySet<StorageFeature> = new Set<StorageFeature>(["presign_backend"]);
  readonly #client: S3Client;
  readonly #options: S3StorageOptions;
  readonly #where: string;
  #closed = false;

  constructor(options: S3StorageOptions) {
    this.#options = options;
    this.#where = `bucket "${options.bucket}" at ${redactText(options.endpoint ?? "AWS S3")}`;
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      forcePathStyle: options.forcePathStyle,
      maxAttempts: options.maxAttempts,
      // Our own MD5/SHA-256 checks cover integrity; SDK checksums on every part cost CPU and
      // break presigned PUTs on some S3-compatible services.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: {
        connectionTimeout: options.connectTimeout,
        requestTimeout: options.requestTimeout,
        throwOnRequestTimeout: true,
        socketTimeout: options.idleTimeout,
      },
    });
  }

  async connect(): Promise<void> {
    this.#assertOpen();
    const Bucket = this.#options.bucket;
    try {
      await this.#headBucket(this.#options.connectTimeout + CONNECT_PROBE_DEADLINE);
      return;
    } catch (error) {
      if (statusOf(error) !== 404 && nameOf(error) !== "NoSuchBucket") {
        throw this.#failure(error, "reach the bucket");
      }
    }
    if (!this.#options.createBucket) {
      throw storageError("storage.bucket_missing", {
        detail: `The ${this.#where} does not exist; create it or set createBucket: true`,
        headers: { "Retry-After": "2" },
      });
    }
    try {
      await this.#client.send(new CreateBucketCommand({ Bucket }));
    } catch (error) {
      // Another edgebox (or a retry of ours) created it first.
      if (nameOf(error) === "BucketAlreadyOwnedByYou") return;
      throw this.#failure(error, "create the bucket");
    }
  }

  async ping(): Promise<HealthReport> {
    if (this.#closed) return { status: "down", detail: "closed" };
    try {
      await this.#headBucket(PING_DEADLINE);
      return { status: "ready" };
    } catch (error) {
      const missing = statusOf(error) === 404 || nameOf(error) === "NoSuchBucket";
      return {
        status: "down",
        detail: missing
          ? `The ${this.#where} does not exist`
          : this.#failure(error, "reach").message,
      };
    }
  }

  /**
   * A real round trip to the bucket (HeadBucket), retries included, abandoned after `deadline`
   * milliseconds (never more than `requestTimeout`): the request is aborted, not left running.
   */
  async #headBucket(deadline: number): Promise<void> {
    const limit = Math.min(deadline, this.#options.requestTimeout);
    const abort = new AbortController();
    const timer = setTimeout(() => {
      const error = new Error(`The service did not answer within ${limit} ms`);
      error.name = "TimeoutError";
      abort.abort(error);
    }, limit);
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#options.bucket }), {
        abortSignal: abort.signal,
      });
    } catch (error) {
      // The SDK reports an abort as its own AbortError: say why it was aborted.
      throw abort.signal.aborted ? abort.signal.reason : error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Streams `body` into the object through at most `uploadConcurrency + 1` part buffers. The
   * body's chunks become the driver's: a chunk that is a whole ArrayBuffer (as a request body's
   * fresh buffer per read is) is released (detached) once copied into a part, so those do not
   * pile up until a garbage collection; a view into a larger buffer is left alone.
   */
  async put(
    key: string,
    body: ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<WrittenObject> {
    try {
      this.#assertOpen();
      assertKey(key, this.#options.maxKeyLength);
    } catch (error) {
      await body.cancel().catch(() => {});
      throw error;
    }
    let guard: WriteGuard | undefined;
    try {
      guard = await this.#guard(key, options.conditions, "PUT");
    } catch (error) {
      await body.cancel().catch(() => {});
      throw error;
    }
    const checked = checkedBody(body, { maxSize: this.#options.maxObjectSize });
    try {
      const written = await uploadStream(checked.stream, {
        client: this.#client,
        bucket: this.#options.bucket,
        key,
        partSize: this.#options.partSize,
        concurrency: this.#options.uploadConcurrency,
        params: {
          ContentType: options.contentType ?? "application/octet-stream",
          Metadata: options.metadata ?? {},
          ...headerParams(options.headers),
        },
        // Passed to PutObject, or to CompleteMultipartUpload for a multipart upload.
        conditions: guard?.params,
        releaseChunks: true,
      });
      return { key, size: written.size, etag: written.etag };
    } catch (error) {
      // uploadStream cancelled the body already; a second cancel is a no-op.
      await checked.stream.cancel(error).catch(() => {});
      if (guard && conditionRefused(error, guard)) throw preconditionFailed(key, guard.field);
      throw this.#failure(error, `store object "${key}"`, key);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    this.#assertOpen();
    assertKey(key, this.#options.maxKeyLength);
    const input: GetObjectCommandInput = { Bucket: this.#options.bucket, Key: key };
    if (options.range) input.Range = formatRange(options.range);
    const conditions = options.conditions ?? {};
    const { ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince } = conditions;
    // Every condition is decided here on the response's own validators (so on the version
    // whose bytes are sent); the service is asked to answer 304 only where that cannot differ
    // from section 13.2.2's order, to save the body.
    const serverSide = ifMatch === undefined && ifUnmodifiedSince === undefined;
    if (serverSide && ifNoneMatch !== undefined) {
      // S3 services compare one strong tag; a weak tag or a list is decided here once the
      // response headers arrive (an empty list matches nothing).
      const tags = ifNoneMatch === "*"
        ? ["*"]
        : [...new Set(ifNoneMatch.map((tag) => tag.replace(/^W\//, "")))];
      if (tags.length === 1) input.IfNoneMatch = tags[0];
    } else if (serverSide && ifModifiedSince) {
      input.IfModifiedSince = ifModifiedSince;
    }
    try {
      const output = await this.#client.send(new GetObjectCommand(input));
      const length = output.ContentLength ?? 0;
      const size = totalSize(output.ContentRange) ?? length;
      const info: ObjectInfo = {
        key,
        size,
        etag: output.ETag ?? "",
        lastModified: output.LastModified ?? new Date(0),
        contentType: output.ContentType ?? "application/octet-stream",
        metadata: output.Metadata ?? {},
        headers: storedHeadersFrom(output),
      };
      const body = output.Body
        ? output.Body.transformToWebStream() as ReadableStream<Uint8Array>
        : new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      const outcome = evaluatePreconditions(info, conditions, "GET");
      if (outcome.kind !== "proceed") {
        await body.cancel();
        if (outcome.kind === "failed") throw preconditionFailed(key, outcome.field);
        const { etag, lastModified, headers } = info;
        return { kind: "not_modified", etag, lastModified, headers };
      }
      if (options.range && !rangeApplies(info, conditions.ifRange)) {
        // If-Range failed on this version: send the whole of the current one instead.
        await body.cancel();
        const { ifRange: _, ...rest } = conditions;
        return await this.get(key, { conditions: rest });
      }
      if (output.ContentRange && output.$metadata.httpStatusCode === 206) {
        const match = /bytes (\d+)-(\d+)\//.exec(output.ContentRange);
        if (match) {
          return {
            kind: "body",
            info,
            body,
            range: { start: Number(match[1]), end: Number(match[2]) },
          };
        }
      }
      return { kind: "body", info, body };
    } catch (error) {
      const status = statusOf(error);
      if (status === 304) {
        const headers = (error as SdkError).$response?.headers ?? {};
        if (headers.etag && headers["last-modified"]) {
          return {
            kind: "not_modified",
            etag: headers.etag,
            lastModified: new Date(headers["last-modified"]),
            // A 304 from S3 repeats these two, as HTTP asks.
            headers: storedHeadersOf({
              cacheControl: headers["cache-control"],
              expires: headers["expires"],
            }),
          };
        }
        const { etag, lastModified, headers: stored } = await this.head(key);
        return { kind: "not_modified", etag, lastModified, headers: stored };
      }
      if (status === 416) throw rangeNotSatisfiable(key, (await this.head(key)).size);
      throw this.#failure(error, `read object "${key}"`, key);
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    this.#assertOpen();
    assertKey(key, this.#options.maxKeyLength);
    try {
      const output = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#options.bucket, Key: key }),
      );
      return {
        key,
        size: output.ContentLength ?? 0,
        etag: output.ETag ?? "",
        lastModified: output.LastModified ?? new Date(0),
        contentType: output.ContentType ?? "application/octet-stream",
        metadata: output.Metadata ?? {},
        headers: storedHeadersFrom(output),
      };
    } catch (error) {
      throw this.#failure(error, `read object "${key}"`, key);
    }
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    this.#assertOpen();
    assertKey(key, this.#options.maxKeyLength);
    const guard = await this.#guard(key, options.conditions, "DELETE");
    // Conditions met by "no object": nothing to delete, and If-None-Match: * has no S3 form.
    if (guard?.params.IfNoneMatch === "*") return;
    try {
      await this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#options.bucket, Key: key, ...guard?.params }),
      );
    } catch (error) {
      if (guard && statusOf(error) !== 404 && conditionRefused(error, guard)) {
        throw preconditionFailed(key, guard.field);
      }
      // Gone already (deleted concurrently, after our check): what this delete asked for.
      if (statusOf(error) === 404 && nameOf(error) !== "NoSuchBucket") return;
      throw this.#failure(error, `delete object "${key}"`);
    }
  }

  async list(options: ListOptions): Promise<ListPage> {
    this.#assertOpen();
    try {
      const output = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#options.bucket,
          ...(options.prefix ? { Prefix: options.prefix } : {}),
          ...(options.delimiter ? { Delimiter: options.delimiter } : {}),
          ...(options.cursor ? { ContinuationToken: options.cursor } : {}),
          MaxKeys: options.limit,
        }),
      );
      const page: ListPage = {
        objects: (output.Contents ?? []).map((o) => ({
          key: o.Key ?? "",
          size: o.Size ?? 0,
          etag: o.ETag ?? "",
          lastModified: o.LastModified ?? new Date(0),
        })),
        prefixes: (output.CommonPrefixes ?? []).map((p) => p.Prefix ?? ""),
      };
      if (output.IsTruncated && output.NextContinuationToken) {
        page.cursor = output.NextContinuationToken;
      }
      return page;
    } catch (error) {
      if (statusOf(error) === 400 && options.cursor) {
        throw storageError("storage.cursor_invalid", {
          detail: "The backend refused the listing cursor",
          field: "query.cursor",
          cause: error,
        });
      }
      throw this.#failure(error, `list objects under "${options.prefix ?? ""}"`);
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<WrittenObject> {
    this.#assertOpen();
    assertKey(from, this.#options.maxKeyLength);
    assertKey(to, this.#options.maxKeyLength, "body.to");
    const threshold = Math.min(
      this.#options.multipartCopyThreshold ?? MAX_COPY_OBJECT,
      MAX_COPY_OBJECT,
    );
    for (let attempt = 1;; attempt++) {
      const source = await this.head(from);
      const guard = await this.#guard(to, options.conditions, "COPY");
      try {
        // CopyObject's own If-Match / If-None-Match are ignored by MinIO (it copies anyway),
        // while CompleteMultipartUpload honours them: a conditional copy goes part by part.
        if (source.size > threshold || guard) return await this.#copyInParts(source, to, guard);
        const output = await this.#client.send(
          new CopyObjectCommand({
            Bucket: this.#options.bucket,
            Key: to,
            CopySource: copySource(this.#options.bucket, from),
            // The source we measured, not one written since.
            CopySourceIfMatch: source.etag,
            // Its type, metadata and headers as measured, written out: with "COPY", MinIO
            // drops the source's Expires.
            MetadataDirective: "REPLACE",
            ContentType: source.contentType,
            Metadata: source.metadata,
            ...headerParams(source.headers),
          }),
        );
        return { key: to, size: source.size, etag: output.CopyObjectResult?.ETag ?? source.etag };
      } catch (error) {
        if (guard && conditionRefused(error, guard)) {
          // The source condition (ours) or the destination's (the client's) failed: see which.
          if ((await this.#current(from))?.etag === source.etag) {
            throw preconditionFailed(to, guard.field);
          }
        }
        if (statusOf(error) === 412) {
          if (attempt < COPY_ATTEMPTS) continue; // the source was replaced meanwhile
          throw storageError("storage.precondition_failed", {
            detail: `Object "${from}" kept changing while it was copied`,
            cause: error,
          });
        }
        throw this.#failure(error, `copy object "${from}" to "${to}"`, from);
      }
    }
  }

  async presign(key: string, options: PresignOptions): Promise<PresignedUrl> {
    this.#assertOpen();
    assertKey(key, this.#options.maxKeyLength, "body.key");
    const input = { Bucket: this.#options.bucket, Key: key };
    const command = options.method === "GET"
      ? new GetObjectCommand(input)
      : new PutObjectCommand(input);
    try {
      const url = await getSignedUrl(this.#client, command, { expiresIn: options.expiresIn });
      return {
        url,
        method: options.method,
        expiresAt: new Date(Date.now() + options.expiresIn * 1000),
      };
    } catch (error) {
      throw this.#failure(error, `presign object "${key}"`);
    }
  }

  verifySignedUrl(_request: SignedRequest): Promise<void> {
    return Promise.reject(storageError("storage.unsupported", {
      detail: "The s3 backend's presigned URLs are verified by S3, not edgebox",
    }));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw storageError.unavailable("The s3 storage backend is closed");
  }

  /**
   * A copy too large for CopyObject, or one with conditions on its destination: multipart, each
   * part copied server-side, the conditions checked by CompleteMultipartUpload.
   */
  async #copyInParts(
    source: ObjectInfo,
    to: string,
    guard: WriteGuard | undefined,
  ): Promise<WrittenObject> {
    const Bucket = this.#options.bucket;
    if (source.size === 0) {
      // No part to copy (a multipart upload needs one): write the empty object directly.
      const output = await this.#client.send(
        new PutObjectCommand({
          Bucket,
          Key: to,
          Body: new Uint8Array(0),
          ContentType: source.contentType,
          Metadata: source.metadata,
          ...headerParams(source.headers),
          ...guard?.params,
        }),
      );
      return { key: to, size: 0, etag: output.ETag ?? source.etag };
    }
    const partSize = Math.max(this.#options.partSize, Math.ceil(source.size / MAX_PARTS));
    const { UploadId } = await this.#client.send(
      new CreateMultipartUploadCommand({
        Bucket,
        Key: to,
        ContentType: source.contentType,
        Metadata: source.metadata,
        ...headerParams(source.headers),
      }),
    );
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, part = 1; start < source.size; start += partSize, part++) {
        const end = Math.min(start + partSize, source.size) - 1;
        const output = await this.#client.send(
          new UploadPartCopyCommand({
            Bucket,
            Key: to,
            UploadId,
            PartNumber: part,
            CopySource: copySource(Bucket, source.key),
            CopySourceIfMatch: source.etag,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ ETag: output.CopyPartResult?.ETag ?? "", PartNumber: part });
      }
      const done = await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: to,
          UploadId,
          MultipartUpload: { Parts: parts },
          ...guard?.params,
        }),
      );
      return { key: to, size: source.size, etag: done.ETag ?? "" };
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket, Key: to, UploadId }))
        .catch(() => {/* the bucket's lifecycle rules reclaim what an abort could not */});
      throw error;
    }
  }

  /** The object under `key`, or `undefined` when there is none. */
  async #current(key: string): Promise<ObjectInfo | undefined> {
    try {
      return await this.head(key);
    } catch (error) {
      if (error instanceof EdgeboxError && error.code === "storage.not_found") return undefined;
      throw error;
    }
  }

  /**
   * Checks a write's preconditions and says how to make the write itself conditional on the
   * service, so that a change between the check and the write fails the write (412) instead of
   * being overwritten: the conditions are evaluated here against the current object, and the
   * write is sent with `If-Match` its ETag (or `If-None-Match: *` when there was none). The two
   * common single conditions go to the service as they are, without the extra HEAD.
   */
  async #guard(
    key: string,
    conditions: Preconditions | undefined,
    method: "PUT" | "DELETE" | "COPY",
  ): Promise<WriteGuard | undefined> {
    if (!conditions || !hasPreconditions(conditions)) return undefined;
    // A delete always looks first: S3 answers 404, not 412, to If-Match on a missing object.
    const only = Object.keys(conditions).length === 1 && method !== "DELETE";
    if (only && conditions.ifNoneMatch === "*") {
      return { params: { IfNoneMatch: "*" }, field: "header.if-none-match" };
    }
    const tag = Array.isArray(conditions.ifMatch) && conditions.ifMatch.length === 1
      ? conditions.ifMatch[0] as string
      : undefined;
    if (only && tag !== undefined && !tag.startsWith("W/")) {
      return { params: { IfMatch: tag }, field: "header.if-match" };
    }
    const current = await this.#current(key);
    assertWritable(key, current, conditions, method);
    return {
      params: current ? { IfMatch: current.etag } : { IfNoneMatch: "*" },
      field: firstHeader(conditions),
    };
  }

  /** Turns an SDK or network error into a storage error, keeping it as the cause. */
  #failure(error: unknown, action: string, key?: string): EdgeboxError {
    if (error instanceof EdgeboxError) return error;
    const status = statusOf(error);
    const name = nameOf(error) ?? "Error";
    const detail = `Cannot ${action} in the ${this.#where}`;
    if (name === "NoSuchBucket") {
      return storageError("storage.bucket_missing", {
        detail: `${detail}: the bucket does not exist`,
        headers: { "Retry-After": "2" },
        cause: error,
      });
    }
    if (
      status === undefined || status >= 500 || status === 429 ||
      name === "TimeoutError" || name === "AbortError"
    ) {
      return storageError.unavailable(`${detail}: ${messageOf(error) || name}`, error);
    }
    if (status === 404 && key !== undefined) return notFound(key);
    if (name === "EntityTooLarge") return tooLarge(this.#options.maxObjectSize);
    if (status === 401 || status === 403) {
      return storageError("storage.backend_error", {
        detail: `${detail}: the service refused the credentials (${name})`,
        cause: error,
      });
    }
    return storageError("storage.backend_error", {
      detail: `${detail}: ${name} (${status})`,
      cause: error,
    });
  }
}

S3Storage satisfies new (options: S3StorageOptions) => StorageDriver;

/** The driver options of an s3 config block. */
export function s3StorageOptions(config: S3StorageConfig): S3StorageOptions {
  return {
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    region: config.region,
    bucket: config.bucket,
    ...(config.accessKeyId && config.secretAccessKey
      ? {
        credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
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
  };
}

/** The `s3` backend of the storage plugin. */
export const s3Backend = defineBackend({
  config: S3StorageConfig,
  system: "s3",
  create: ({ config }): StorageDriver => new S3Storage(s3StorageOptions(config)),
});
