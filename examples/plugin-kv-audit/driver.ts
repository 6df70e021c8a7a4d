/**
 * What every audit backend does: write, read and delete values in the key-value store, and keep
 * a trail of the changes that succeeded. The routes speak only to this interface.
 */
import type { Driver, KeyValueStore } from "../../mod.ts";

/** A value read back, with its strong entity tag (from the key-value store). */
export type StoredValue = NonNullable<Awaited<ReturnType<KeyValueStore["get"]>>>;

/** `"*"` (any current value) or a list of entity tags, as `If-Match` names them. */
export type EntityTags = "*" | readonly string[];

/** One change, as the trail keeps it. */
export interface AuditRecord {
  /** Position in the trail: 1, 2, 3... with no gaps, per backend incarnation. */
  seq: number;
  /** When the change was made (ISO 8601, UTC). */
  at: string;
  action: "put" | "delete";
  /** The key as the client named it (without the store prefix). */
  key: string;
  /** Bytes stored (`put` only). */
  size?: number;
  /** Entity tag of the value stored (`put` only). */
  etag?: string;
  /** The API key name that made the change (`anonymous` when auth is off). */
  principal: string;
}

/** Options of {@linkcode AuditDriver.put}. */
export interface PutOptions {
  contentType: string;
  principal: string;
  /** Store only over a value with one of these tags (or any value, for `"*"`). */
  ifMatch?: EntityTags;
  /** Store only where the key holds nothing (`If-None-Match: *`). */
  ifAbsent?: boolean;
}

/**
 * What a put did: `created` and `replaced` wrote and were recorded; `precondition_failed` (the
 * `ifMatch` tags did not match, or nothing was there) and `exists` (`ifAbsent` found a value)
 * wrote nothing and recorded nothing.
 */
export type PutResult =
  | { outcome: "created" | "replaced"; record: AuditRecord }
  | { outcome: "precondition_failed" | "exists" };

/** Options of {@linkcode AuditDriver.delete}. */
export interface DeleteOptions {
  principal: string;
  /** Delete only a value with one of these tags (or any value, for `"*"`). */
  ifMatch?: EntityTags;
}

/** What a delete did; only `deleted` is recorded. */
export type DeleteResult =
  | { outcome: "deleted"; record: AuditRecord }
  | { outcome: "absent" | "precondition_failed" };

/** Options of {@linkcode AuditDriver.log}. */
export interface LogOptions {
  /** Most records on the page. */
  limit: number;
  /** Only records older than this `seq` (from the previous page); the newest when left out. */
  before?: number;
}

/** A page of the trail, newest first; `next` is the `before` of the next page, if any. */
export interface LogPage {
  records: AuditRecord[];
  next: number | undefined;
}

/** An audit backend. */
export interface AuditDriver extends Driver {
  /**
   * Identifies this trail: a new one whenever the backend starts afresh (a memory trail on
   * every start), so a cursor into an earlier trail is refused rather than misread.
   */
  readonly trailId: string;
  put(key: string, value: Uint8Array, options: PutOptions): Promise<PutResult>;
  get(key: string): Promise<StoredValue | undefined>;
  delete(key: string, options: DeleteOptions): Promise<DeleteResult>;
  log(options: LogOptions): Promise<LogPage>;
}
