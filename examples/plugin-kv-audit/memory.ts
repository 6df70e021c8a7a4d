/**
 * The `memory` audit backend, a demo: values go to the key-value store (whichever cache instance
 * provides it, so they are as durable as that cache), the trail lives in a bounded ring in process
 * memory and is lost on restart. A production backend would append the trail to something
 * durable (a Redis stream, a messaging subject, SQLite) behind the same {@linkcode AuditDriver}.
 */
import { EdgeboxError, entityTag, type HealthReport, type KeyValueStore } from "../../mod.ts";
import type {
  AuditDriver,
  AuditRecord,
  DeleteOptions,
  DeleteResult,
  LogOptions,
  LogPage,
  PutOptions,
  PutResult,
  StoredValue,
} from "./driver.ts";
import { auditError } from "./errors.ts";

/** Options of {@linkcode MemoryAudit}. */
export interface MemoryAuditOptions {
  /** Prefixed to every key in the store. */
  keyPrefix: string;
  /** Most records kept; the oldest is dropped past it. */
  maxRecords: number;
}

/** A trail of at most `maxRecords` records in a ring; seq `n` sits in slot `(n - 1) % size`. */
export class MemoryAudit implements AuditDriver {
  readonly trailId: string = crypto.randomUUID();
  readonly #store: KeyValueStore;
  readonly #options: MemoryAuditOptions;
  readonly #ring: AuditRecord[] = [];
  #last = 0;
  #connected = false;

  constructor(store: KeyValueStore, options: MemoryAuditOptions) {
    this.#store = store;
    this.#options = options;
  }

  connect(): void {
    this.#connected = true;
  }

  ping(): HealthReport {
    if (!this.#connected) return { status: "down", detail: "not started" };
    return { status: "ready", detail: `${this.#count()} of ${this.#options.maxRecords} records` };
  }

  close(): void {
    this.#connected = false;
  }

  async put(key: string, value: Uint8Array, options: PutOptions): Promise<PutResult> {
    const outcome = await this.#call(() =>
      this.#store.set(this.#options.keyPrefix + key, value, {
        contentType: options.contentType,
        ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
        ...(options.ifAbsent ? { ifAbsent: true } : {}),
      })
    );
    if (outcome === "exists" || outcome === "precondition_failed") return { outcome };
    // Appended only once the store confirmed the write: a refused write is never in the trail.
    const record = this.#append({
      action: "put",
      key,
      size: value.byteLength,
      etag: entityTag(value, options.contentType),
      principal: options.principal,
    });
    return { outcome, record };
  }

  get(key: string): Promise<StoredValue | undefined> {
    return this.#call(() => this.#store.get(this.#options.keyPrefix + key));
  }

  async delete(key: string, options: DeleteOptions): Promise<DeleteResult> {
    let deleted: boolean;
    try {
      deleted = await this.#call(() =>
        this.#store.delete(
          this.#options.keyPrefix + key,
          options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch },
        )
      );
    } catch (error) {
      // The store refuses a delete whose If-Match tags miss with its own code (KeyValueStore).
      if (error instanceof EdgeboxError && error.code.endsWith(".precondition_failed")) {
        return { outcome: "precondition_failed" };
      }
      throw error;
    }
    if (!deleted) return { outcome: options.ifMatch ? "precondition_failed" : "absent" };
    return {
      outcome: "deleted",
      record: this.#append({ action: "delete", key, principal: options.principal }),
    };
  }

  log(options: LogOptions): Promise<LogPage> {
    const oldest = this.#last - this.#count() + 1;
    const from = Math.min(this.#last, (options.before ?? Infinity) - 1);
    const records: AuditRecord[] = [];
    for (let seq = from; seq >= oldest && records.length < options.limit; seq--) {
      records.push(this.#ring[(seq - 1) % this.#options.maxRecords]!);
    }
    const lastListed = from - records.length + 1;
    return Promise.resolve({
      records,
      next: records.length > 0 && lastListed > oldest ? lastListed : undefined,
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #count(): number {
    return Math.min(this.#last, this.#options.maxRecords);
  }

  #append(change: Omit<AuditRecord, "seq" | "at">): AuditRecord {
    const seq = ++this.#last;
    const record = Object.freeze({
      seq,
      at: new Date().toISOString(),
      action: change.action,
      key: change.key,
      ...(change.size === undefined ? {} : { size: change.size }),
      ...(change.etag === undefined ? {} : { etag: change.etag }),
      principal: change.principal,
    });
    this.#ring[(seq - 1) % this.#options.maxRecords] = record;
    return record;
  }

  /**
   * Runs a store call, turning the store's refusals into this plugin's codes: a key the store
   * refuses (the prefix made it too long) is `audit.key_invalid`, a value over the store's limit
   * `audit.value_too_large`, a store that cannot answer `audit.unavailable`.
   */
  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof EdgeboxError)) throw error;
      const reason = error.code.slice(error.code.indexOf(".") + 1);
      if (reason === "key_invalid") {
        throw auditError("audit.key_invalid", {
          detail: `The store refused the key: ${error.message}`,
          field: "key",
          cause: error,
        });
      }
      if (reason === "value_too_large") {
        throw auditError("audit.value_too_large", { detail: error.message, cause: error });
      }
      if (reason === "unavailable") throw auditError.unavailable(error.message, error);
      throw error;
    }
  }
}

MemoryAudit satisfies new (store: KeyValueStore, options: MemoryAuditOptions) => AuditDriver;
