/**
 * What every storage backend does. Bodies are web streams in and out, so no operation ever
 * holds a whole object in memory; routes speak only to this interface.
 */
import type { Driver, HealthReport } from "../../core/plugin.ts";
import type { Preconditions } from "./conditions.ts";
import type { ByteRange, RangeRequest } from "./ranges.ts";

/**
 * Capabilities that differ between backends:
 * - `presign_backend`: presigned URLs point at the backend itself (S3 signs them).
 * - `presign_edgebox`: presigned URLs point at edgebox, which verifies them
 *   ({@linkcode StorageDriver.verifySignedUrl}).
 */
export type StorageFeature = "presign_backend" | "presign_edgebox";

/**
 * The standard HTTP headers stored with an object and sent back on every read, as S3 keeps
 * them: each exactly as written, and absent when the write did not set it.
 */
export interface StoredHeaders {
  cacheControl?: string;
  contentDisposition?: string;
  /** Sent back as stored: the bytes are never decoded (nor encoded) on the way. */
  contentEncoding?: string;
  contentLanguage?: string;
  /** An IMF-fixdate (`Wed, 21 Oct 2026 07:28:00 GMT`). */
  expires?: string;
}

/** Everything known about a stored object. */
export interface ObjectInfo {
  key: string;
  /** Bytes. */
  size: number;
  /** Quoted entity tag (`"9e107d9d..."`), as HTTP sends it. */
  etag: string;
  lastModified: Date;
  contentType: string;
  /** User metadata: lowercase names without the `x-meta-` prefix. */
  metadata: Record<string, string>;
  /** Standard headers stored with the object (empty when none was set). */
  headers: StoredHeaders;
}

/** One object in a listing. */
export type ListedObject = Pick<ObjectInfo, "key" | "size" | "etag" | "lastModified">;

/** What a write reports. */
export type WrittenObject = Pick<ObjectInfo, "key" | "size" | "etag">;

/** Options of {@linkcode StorageDriver.put}. */
export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Standard headers to store with the object. */
  headers?: StoredHeaders;
  /**
   * Checked against the object the write replaces (or its absence), atomically with the write;
   * `storage.precondition_failed` naming the header when they do not hold.
   */
  conditions?: Preconditions;
}

/** Options of {@linkcode StorageDriver.get}. */
export interface GetOptions {
  range?: RangeRequest;
  /** Checked against the version read: 412 `storage.precondition_failed`, or `not_modified`. */
  conditions?: Preconditions;
}

/** Options of {@linkcode StorageDriver.delete}. */
export interface DeleteOptions {
  /** Checked against the object removed (or its absence), atomically where the backend can. */
  conditions?: Preconditions;
}

/** Options of {@linkcode StorageDriver.copy}. */
export interface CopyOptions {
  /** Checked against the destination the copy replaces (or its absence). */
  conditions?: Preconditions;
}

/** The answer to a read: the object's bytes, or "your copy is current". */
export type GetResult =
  | {
    kind: "body";
    info: ObjectInfo;
    body: ReadableStream<Uint8Array>;
    /** Set when only part of the object is sent (HTTP 206). */
    range?: ByteRange;
  }
  | {
    kind: "not_modified";
    etag: string;
    lastModified: Date;
    /** At least `cacheControl` and `expires`, which a 304 repeats. */
    headers: StoredHeaders;
  };

/** Options of {@linkcode StorageDriver.list}. */
export interface ListOptions {
  prefix?: string;
  /** Groups keys that share the text up to the next delimiter into `prefixes`. */
  delimiter?: string;
  /** Entries (objects plus prefixes) per page. */
  limit: number;
  /** From the previous page's `cursor`. */
  cursor?: string;
}

/** One page of a listing, in UTF-8 byte order of keys. */
export interface ListPage {
  objects: ListedObject[];
  /** Common prefixes, each ending with the delimiter. */
  prefixes: string[];
  /** Pass it back for the next page; absent on the last page. */
  cursor?: string;
}

/** Options of {@linkcode StorageDriver.presign}. */
export interface PresignOptions {
  method: "GET" | "PUT";
  /** Seconds the URL stays valid. */
  expiresIn: number;
  /**
   * The URL of edgebox's route for signed requests (`https://host/v1/storage/presigned`), which
   * edgebox-signed URLs point at; backends that sign their own URLs ignore it.
   */
  routeUrl: string;
}

/** A URL a client can use without an API key. */
export interface PresignedUrl {
  url: string;
  method: "GET" | "PUT";
  expiresAt: Date;
}

/** The parts of an edgebox-signed URL that {@linkcode StorageDriver.verifySignedUrl} checks. */
export interface SignedRequest {
  key: string;
  method: "GET" | "PUT";
  /** Expiry, Unix seconds, as the URL carries it. */
  expires: string;
  signature: string;
}

/** A storage backend. Keys are validated by the driver too (see `keys.ts`). */
export interface StorageDriver extends Driver, AsyncDisposable {
  /** `s3` or `filesystem`. */
  readonly backend: string;
  readonly features: ReadonlySet<StorageFeature>;
  /** Connects and prepares the backend (bucket, directories); idempotent and cheap when done. */
  connect(): Promise<void>;
  /** Cheap health probe. */
  ping(): Promise<HealthReport>;
  /**
   * Streams `body` into `key`. The object becomes visible only once complete: a body that
   * errors part way leaves the previous object (or none) in place.
   */
  put(key: string, body: ReadableStream<Uint8Array>, options?: PutOptions): Promise<WrittenObject>;
  /** Streams an object (or part of it) out; `storage.not_found` when missing. */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Metadata of an object; `storage.not_found` when missing. */
  head(key: string): Promise<ObjectInfo>;
  /** Removes an object; succeeds when there is none (unless a condition asks for one). */
  delete(key: string, options?: DeleteOptions): Promise<void>;
  /** One page of keys under a prefix. */
  list(options: ListOptions): Promise<ListPage>;
  /** Server-side copy with content type, metadata and stored headers. */
  copy(from: string, to: string, options?: CopyOptions): Promise<WrittenObject>;
  /** A URL that reads or writes `key` without an API key, until it expires. */
  presign(key: string, options: PresignOptions): Promise<PresignedUrl>;
  /**
   * Checks an edgebox-signed URL (`presign_edgebox`); throws `storage.signature_invalid` or
   * `storage.signature_expired`, and `storage.unsupported` on backends that sign their own.
   */
  verifySignedUrl(request: SignedRequest): Promise<void>;
  /** Disconnects; safe to call twice. */
  close(): Promise<void>;
}
