/**
 * The embedded storage backend: objects in a directory on local disk.
 *
 * Layout under `root`:
 * - `objects/`: one JSON sidecar per object (`a.d/b.d/c.meta` for key `a/b/c`). The sidecar
 *   holds the metadata (and the stored standard headers: a sidecar without `headers`, as
 *   written before they were kept, has none) and names the blob; renaming it into place is the
 *   commit point.
 * - `blobs/xx/<id>`: object bytes, immutable once written (a copy is a hard link).
 * - `tmp/`: uploads in progress, swept at start.
 *
 * A body is streamed to `tmp/`, fsynced, moved to `blobs/`, then its sidecar is renamed over
 * the old one, so a reader sees the old object or the new one, never a half-written one. The
 * `.d` / `.meta` suffixes keep key `a` and key `a/b` from colliding, and key rules (`keys.ts`)
 * plus a final containment check keep every path inside `root`. One process owns a root.
 */
import type { DataDir } from "../../core/data_dir.ts";
import { createHash } from "node:crypto";
import { dirname, join, resolve, sep } from "node:path";
import { EdgeboxError } from "../../core/errors.ts";
import { defineBackend, type HealthReport } from "../../core/plugin.ts";
import {
  assertWritable,
  evaluatePreconditions,
  preconditionFailed,
  type Preconditions,
  rangeApplies,
} from "./conditions.ts";
import { FilesystemStorageConfig } from "./config.ts";
import { invalidCursor } from "./cursor.ts";
import type {
  CopyOptions,
  DeleteOptions,
  GetOptions,
  GetResult,
  ListedObject,
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
import { notFound, rangeNotSatisfiable, storageError } from "./errors.ts";
import { KeyedLock } from "./keyed_lock.ts";
import { storedHeadersOf } from "./object_headers.ts";
import { assertKey, compareKeys } from "./keys.ts";
import { type ByteRange, resolveRange } from "./ranges.ts";
import { UrlSigner } from "./signed_url.ts";
import { checkedBody } from "./streams.ts";

/** Options of {@linkcode FilesystemStorage}. */
export interface FilesystemStorageOptions {
  /** Directory holding everything; created at connect. */
  root: string;
  /** Called first in `connect`: takes the data directory's lock when the root lives in it. */
  claim?: () => void;
  /** fsync bodies and sidecars before they become visible. */
  fsync: boolean;
  maxObjectSize: number;
  maxKeyLength: number;
  /** Signing of presigned URLs. */
  presign: {
    /**
     * Signing key; left out, the key kept in `keyFile` (made at the first connect), else a
     * random one (URLs then die with the process).
     */
    secret?: Uint8Array<ArrayBuffer>;
    /** Where a generated key is kept across restarts (`<root>/presign.key`, mode 0600). */
    keyFile?: string;
    /** The instance name, so a URL for one instance fails on another. */
    scope: string;
    /** Clock in epoch milliseconds, for tests. */
    now?: () => number;
  };
}

/** What a sidecar holds. */
interface Sidecar {
  v: 1;
  key: string;
  size: number;
  etag: string;
  lastModified: number;
  contentType: string;
  metadata: Record<string, string>;
  /** Stored standard headers; left out when there are none (and by sidecars from before). */
  headers?: StoredHeaders;
  blob: string;
}

/** One entry of a listing walk, in key order. */
type WalkEntry = { type: "object"; key: string; path: string } | { type: "prefix"; key: string };

/** Where the previous page stopped: the last key or common prefix it returned. */
interface FsCursor {
  key: string;
  prefix: boolean;
}

const READ_CHUNK = 256 * 1024;
const COMMIT_ATTEMPTS = 5;

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Already gone, or it is an orphan a later sweep removes; the operation's outcome stands.
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/** A stream of `length` bytes from the file's current position; closes the file when done. */
function fileStream(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining === 0) {
        close();
        controller.close();
        return;
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
      let read: number | null;
      try {
        read = await file.read(buffer);
      } catch (error) {
        close();
        controller.error(error);
        return;
      }
      if (read === null) {
        close();
        controller.error(new Error("The object's file ended before its recorded size"));
        return;
      }
      remaining -= read;
      controller.enqueue(read === buffer.length ? buffer : buffer.subarray(0, read));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/**
 * The position after a page: `o` or `p` (an object, or a common prefix) then the key. Plain text,
 * since the route wraps it in the one opaque cursor; any other text is not one of ours.
 */
function positionOf(cursor: FsCursor): string {
  return `${cursor.prefix ? "p" : "o"}${cursor.key}`;
}

function cursorAt(position: string): FsCursor {
  const kind = position[0];
  if ((kind !== "o" && kind !== "p") || position.length < 2) {
    throw invalidCursor("The cursor was not made by this listing");
  }
  return { key: position.slice(1), prefix: kind === "p" };
}

function toInfo(sidecar: Sidecar): ObjectInfo {
  return {
    key: sidecar.key,
    size: sidecar.size,
    etag: sidecar.etag,
    lastModified: new Date(sidecar.lastModified),
    contentType: sidecar.contentType,
    metadata: sidecar.metadata,
    headers: storedHeadersOf(sidecar.headers),
  };
}

/** Objects as files under a root directory. */
export class FilesystemStorage implements StorageDriver {
  readonly backend = "filesystem";
  readonly features: ReadonlySet<StorageFeature> = new Set<StorageFeature>(["presign_edgebox"]);
  readonly #root: string;
  readonly #objects: string;
  readonly #blobs: string;
  readonly #tmp: string;
  readonly #fsync: boolean;
  readonly #claim: (() => void) | undefined;
  readonly #maxObjectSize: number;
  readonly #maxKeyLength: number;
  #signer: UrlSigner;
  readonly #presign: FilesystemStorageOptions["presign"];
  readonly #locks = new KeyedLock();
  #swept = false;
  #closed = false;

  constructor(options: FilesystemStorageOptions) {
    this.#root = resolve(options.root);
    this.#objects = join(this.#root, "objects");
    this.#blobs = join(this.#root, "blobs");
    this.#tmp = join(this.#root, "tmp");
    this.#fsync = options.fsync;
    this.#claim = options.claim;
    this.#maxObjectSize = options.maxObjectSize;
    this.#maxKeyLength = options.maxKeyLength;
    this.#presign = options.presign;
    this.#signer = this.#signerWith(
      options.presign.secret ?? crypto.getRandomValues(new Uint8Array(32)),
    );
  }

  #signerWith(secret: Uint8Array<ArrayBuffer>): UrlSigner {
    const { scope, now } = this.#presign;
    return new UrlSigner({ secret, scope, ...(now ? { now } : {}) });
  }

  /** The signing key kept in `keyFile`, made on first use: presigned URLs survive restarts. */
  async #persistedKey(file: string): Promise<Uint8Array<ArrayBuffer>> {
    try {
      const key = await Deno.readFile(file);
      if (key.length >= 32) return new Uint8Array(key);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const key = crypto.getRandomValues(new Uint8Array(32));
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, key, { mode: 0o600 });
    await Deno.rename(tmp, file);
    return key;
  }

  async connect(): Promise<void> {
    this.#assertOpen();
    this.#claim?.();
    try {
      for (const dir of [this.#objects, this.#blobs, this.#tmp]) {
        await Deno.mkdir(dir, { recursive: true });
      }
      if (!this.#swept) {
        // Left by a crash mid-upload; nothing refers to them. Only on the first connect:
        // later reconnects must not remove uploads in flight.
        for await (const entry of Deno.readDir(this.#tmp)) {
          await Deno.remove(join(this.#tmp, entry.name), { recursive: true });
        }
        this.#swept = true;
      }
      if (this.#presign.secret === undefined && this.#presign.keyFile !== undefined) {
        this.#signer = this.#signerWith(await this.#persistedKey(this.#presign.keyFile));
      }
    } catch (error) {
      throw this.#failure(error, `prepare storage root "${this.#root}"`);
    }
  }

  async ping(): Promise<HealthReport> {
    if (this.#closed) return { status: "down", detail: "closed" };
    try {
      await Deno.stat(this.#objects);
      await Deno.stat(this.#tmp);
      return { status: "ready" };
    } catch (error) {
      return {
        status: "down",
        detail: `Storage root "${this.#root}" is not usable: ${(error as Error).message}`,
      };
    }
  }

  async put(
    key: string,
    body: ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<WrittenObject> {
    let metaPath: string;
    try {
      this.#assertOpen();
      metaPath = this.#metaPath(key);
    } catch (error) {
      await body.cancel().catch(() => {});
      throw error;
    }
    if (options.conditions) {
      // Fail before streaming a body that could not be kept; the commit checks again.
      try {
        const current = await this.#readSidecar(metaPath);
        assertWritable(key, current && toInfo(current), options.conditions, "PUT");
      } catch (error) {
        await body.cancel().catch(() => {});
        throw error;
      }
    }
    const id = crypto.randomUUID().replaceAll("-", "");
    const upload = join(this.#tmp, id);
    const checked = checkedBody(body, { maxSize: this.#maxObjectSize });
    const md5 = createHash("md5");
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(upload, { write: true, createNew: true });
      for await (const chunk of checked.stream) {
        md5.update(chunk);
        await writeAll(file, chunk);
      }
      if (this.#fsync) await file.sync();
      file.close();
      file = undefined;
      const blob = this.#blobPath(id);
      await Deno.mkdir(dirname(blob), { recursive: true });
      await Deno.rename(upload, blob);
      const headers = storedHeadersOf(options.headers);
      const sidecar: Sidecar = {
        v: 1,
        key,
        size: checked.bytes(),
        etag: `"${md5.digest("hex")}"`,
        lastModified: Date.now(),
        contentType: options.contentType ?? "application/octet-stream",
        metadata: options.metadata ?? {},
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        blob: id,
      };
      await this.#commit(sidecar, { conditions: options.conditions, method: "PUT" });
      return { key, size: sidecar.size, etag: sidecar.etag };
    } catch (error) {
      file?.close();
      await removeQuietly(upload);
      throw this.#failure(error, `store object "${key}"`);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    this.#assertOpen();
    const metaPath = this.#metaPath(key);
    for (let attempt = 0;; attempt++) {
      const sidecar = await this.#readSidecar(metaPath);
      if (!sidecar) throw notFound(key);
      const info = toInfo(sidecar);
      const conditions = options.conditions ?? {};
      const outcome = evaluatePreconditions(info, conditions, "GET");
      if (outcome.kind === "failed") throw preconditionFailed(key, outcome.field);
      if (outcome.kind === "not_modified") {
        const { etag, lastModified, headers } = info;
        return { kind: "not_modified", etag, lastModified, headers };
      }
      let range: ByteRange | undefined;
      if (options.range && rangeApplies(info, conditions.ifRange)) {
        range = resolveRange(options.range, info.size);
        if (!range) throw rangeNotSatisfiable(key, info.size);
      }
      let file: Deno.FsFile;
      try {
        file = await Deno.open(this.#blobPath(sidecar.blob), { read: true });
      } catch (error) {
        // Overwritten between reading the sidecar and opening its blob: read the new one.
        if (isNotFound(error) && attempt < COMMIT_ATTEMPTS) continue;
        throw this.#failure(error, `read object "${key}"`);
      }
      try {
        if (range && range.start > 0) await file.seek(range.start, Deno.SeekMode.Start);
      } catch (error) {
        file.close();
        throw this.#failure(error, `read object "${key}"`);
      }
      const length = range ? range.end - range.start + 1 : info.size;
      const body = fileStream(file, length);
      return range ? { kind: "body", info, body, range } : { kind: "body", info, body };
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    this.#assertOpen();
    const sidecar = await this.#readSidecar(this.#metaPath(key));
    if (!sidecar) throw notFound(key);
    return toInfo(sidecar);
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    this.#assertOpen();
    const metaPath = this.#metaPath(key);
    try {
      const removed = await this.#locks.run(key, async () => {
        const sidecar = await this.#readSidecar(metaPath);
        assertWritable(key, sidecar && toInfo(sidecar), options.conditions, "DELETE");
        if (sidecar) await Deno.remove(metaPath);
        return sidecar;
      });
      if (!removed) return;
      await removeQuietly(this.#blobPath(removed.blob));
      await this.#prune(dirname(metaPath));
    } catch (error) {
      throw this.#failure(error, `delete object "${key}"`);
    }
  }

  async list(options: ListOptions): Promise<ListPage> {
    this.#assertOpen();
    const prefix = options.prefix ?? "";
    const delimiter = options.delimiter || undefined;
    const after = options.cursor ? cursorAt(options.cursor) : undefined;
    const objects: ListedObject[] = [];
    const prefixes: string[] = [];
    let last: FsCursor | undefined;
    let more = false;
    const walk = this.#walk(this.#objects, "", { prefix, delimiter, after });
    try {
      for await (const entry of walk) {
        let item: FsCursor;
        if (entry.type === "prefix") {
          item = { key: entry.key, prefix: true };
        } else {
          const at = delimiter ? entry.key.indexOf(delimiter, prefix.length) : -1;
          item = at < 0
            ? { key: entry.key, prefix: false }
            : { key: entry.key.slice(0, at + delimiter!.length), prefix: true };
        }
        // Keys that share a common prefix are adjacent in key order.
        if (item.prefix && last?.prefix && last.key === item.key) continue;
        if (objects.length + prefixes.length === options.limit) {
          more = true;
          break;
        }
        if (item.prefix) {
          prefixes.push(item.key);
        } else {
          const sidecar = await this.#readSidecar((entry as { path: string }).path);
          if (!sidecar) continue; // deleted while we listed
          objects.push({
            key: sidecar.key,
            size: sidecar.size,
            etag: sidecar.etag,
            lastModified: new Date(sidecar.lastModified),
          });
        }
        last = item;
      }
    } catch (error) {
      throw this.#failure(error, `list objects under "${prefix}"`);
    } finally {
      await walk.return(undefined);
    }
    return more && last ? { objects, prefixes, cursor: positionOf(last) } : { objects, prefixes };
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<WrittenObject> {
    this.#assertOpen();
    const sourcePath = this.#metaPath(from);
    this.#metaPath(to);
    for (let attempt = 0;; attempt++) {
      const source = await this.#readSidecar(sourcePath);
      if (!source) throw notFound(from);
      const id = crypto.randomUUID().replaceAll("-", "");
      const blob = this.#blobPath(id);
      try {
        await Deno.mkdir(dirname(blob), { recursive: true });
        try {
          // Blobs never change once written, so the copy can share the bytes.
          await Deno.link(this.#blobPath(source.blob), blob);
        } catch (error) {
          if (isNotFound(error)) throw error;
          await Deno.copyFile(this.#blobPath(source.blob), blob);
        }
      } catch (error) {
        if (isNotFound(error) && attempt < COMMIT_ATTEMPTS) continue; // source overwritten
        throw this.#failure(error, `copy object "${from}" to "${to}"`);
      }
      const sidecar: Sidecar = { ...source, key: to, blob: id, lastModified: Date.now() };
      try {
        await this.#commit(sidecar, { conditions: options.conditions, method: "COPY" });
      } catch (error) {
        throw this.#failure(error, `copy object "${from}" to "${to}"`);
      }
      return { key: to, size: sidecar.size, etag: sidecar.etag };
    }
  }

  async presign(key: string, options: PresignOptions): Promise<PresignedUrl> {
    this.#assertOpen();
    assertKey(key, this.#maxKeyLength, "body.key");
    const signed = await this.#signer.sign(key, options);
    return { url: signed.url, method: options.method, expiresAt: signed.expiresAt };
  }

  async verifySignedUrl(request: SignedRequest): Promise<void> {
    this.#assertOpen();
    assertKey(request.key, this.#maxKeyLength, "query.key");
    await this.#signer.verify(request);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw storageError.unavailable("The filesystem storage backend is closed");
  }

  /** The sidecar path of a key, after checking the key and that the path stays in the root. */
  #metaPath(key: string): string {
    assertKey(key, this.#maxKeyLength);
    const segments = key.split("/");
    const last = segments.pop()!;
    const path = join(this.#objects, ...segments.map((s) => `${s}.d`), `${last}.meta`);
    // The key rules already exclude every way out; this holds even if they had a hole.
    if (!path.startsWith(this.#objects + sep)) {
      throw storageError("storage.key_invalid", {
        detail: "The key resolves outside the storage root",
        field: "path.key",
      });
    }
    return path;
  }

  #blobPath(id: string): string {
    return join(this.#blobs, id.slice(0, 2), id);
  }

  async #readSidecar(path: string): Promise<Sidecar | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#failure(error, "read object metadata");
    }
    try {
      const sidecar = JSON.parse(text) as Sidecar;
      if (sidecar.v === 1 && typeof sidecar.blob === "string") return sidecar;
    } catch {
      // reported below
    }
    throw storageError("storage.backend_error", {
      detail: `Object metadata at "${path}" is corrupt`,
    });
  }

  /**
   * Makes `sidecar` the current version of its key: writes it to `tmp/`, then under the key's
   * lock checks the write's preconditions against the current sidecar and renames the new one
   * over it, whose blob is then dropped. On failure the new blob is removed and the previous
   * object stays.
   */
  async #commit(
    sidecar: Sidecar,
    write: { conditions: Preconditions | undefined; method: "PUT" | "COPY" },
  ): Promise<void> {
    const metaPath = this.#metaPath(sidecar.key);
    const staged = join(this.#tmp, `${sidecar.blob}.meta`);
    let previous: Sidecar | undefined;
    try {
      const file = await Deno.open(staged, { write: true, createNew: true });
      try {
        await writeAll(file, new TextEncoder().encode(JSON.stringify(sidecar)));
        if (this.#fsync) await file.sync();
      } finally {
        file.close();
      }
      previous = await this.#locks.run(sidecar.key, async () => {
        const current = await this.#readSidecar(metaPath);
        assertWritable(sidecar.key, current && toInfo(current), write.conditions, write.method);
        await this.#renameInto(staged, metaPath);
        return current;
      });
    } catch (error) {
      await removeQuietly(staged);
      await removeQuietly(this.#blobPath(sidecar.blob));
      throw error;
    }
    if (previous && previous.blob !== sidecar.blob) {
      await removeQuietly(this.#blobPath(previous.blob));
    }
  }

  /** Renames into a directory a concurrent delete may be pruning: recreate it and retry. */
  async #renameInto(from: string, to: string): Promise<void> {
    for (let attempt = 1;; attempt++) {
      await Deno.mkdir(dirname(to), { recursive: true });
      try {
        await Deno.rename(from, to);
        return;
      } catch (error) {
        if (!isNotFound(error) || attempt >= COMMIT_ATTEMPTS) throw error;
      }
    }
  }

  /** Removes empty directories from `dir` up to `objects/`. */
  async #prune(dir: string): Promise<void> {
    while (dir.startsWith(this.#objects + sep)) {
      try {
        await Deno.remove(dir); // fails on a non-empty directory, which ends the climb
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  /** Whether any object lives under `dir`. */
  async #hasObjects(dir: string): Promise<boolean> {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && entry.name.endsWith(".meta")) return true;
        if (entry.isDirectory && await this.#hasObjects(join(dir, entry.name))) return true;
      }
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    return false;
  }

  /**
   * Yields objects (and, for delimiter `/`, whole directories as common prefixes) in key
   * order, visiting only directories that can hold keys under `prefix` after the cursor.
   */
  async *#walk(
    dir: string,
    dirKey: string,
    query: { prefix: string; delimiter: string | undefined; after: FsCursor | undefined },
  ): AsyncGenerator<WalkEntry> {
    const { prefix, delimiter, after } = query;
    const entries: { key: string; path: string; isDir: boolean }[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isFile && entry.name.endsWith(".meta")) {
          entries.push({ key: dirKey + entry.name.slice(0, -5), path, isDir: false });
        } else if (entry.isDirectory && entry.name.endsWith(".d")) {
          entries.push({ key: `${dirKey}${entry.name.slice(0, -2)}/`, path, isDir: true });
        }
      }
    } catch (error) {
      if (isNotFound(error)) return; // removed by a concurrent delete
      throw error;
    }
    // Every key under directory `a/` sorts between key `a/` and the next sibling.
    entries.sort((a, b) => compareKeys(a.key, b.key));
    for (const entry of entries) {
      const key = entry.key;
      if (after?.prefix && key.startsWith(after.key)) continue;
      if (entry.isDir) {
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
        if (after && compareKeys(key, after.key) <= 0 && !after.key.startsWith(key)) continue;
        if (delimiter === "/" && key.length > prefix.length && key.startsWith(prefix)) {
          if (await this.#hasObjects(entry.path)) yield { type: "prefix", key };
          continue;
        }
        yield* this.#walk(entry.path, key, query);
      } else {
        if (!key.startsWith(prefix)) continue;
        if (after && compareKeys(key, after.key) <= 0) continue;
        yield { type: "object", key, path: entry.path };
      }
    }
  }

  #failure(error: unknown, action: string): EdgeboxError {
    if (error instanceof EdgeboxError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: string }).code === "ENOSPC") {
      return storageError("storage.insufficient_space", {
        detail: `Cannot ${action}: no space left under "${this.#root}"`,
        cause: error,
      });
    }
    if (isNotFound(error)) {
      return storageError.unavailable(
        `Cannot ${action}: storage root "${this.#root}" is missing`,
        error,
      );
    }
    return storageError("storage.backend_error", {
      detail: `Cannot ${action}: ${message}`,
      cause: error,
    });
  }
}

FilesystemStorage satisfies new (options: FilesystemStorageOptions) => StorageDriver;

/** The driver options of a filesystem config block; `scope` is the instance name. */
export function filesystemStorageOptions(
  config: FilesystemStorageConfig,
  scope: string,
  dataDir: DataDir,
): FilesystemStorageOptions {
  const root = config.root ?? join(dataDir.path, scope);
  return {
    root,
    ...(config.root === undefined ? { claim: () => void dataDir.file(scope) } : {}),
    fsync: config.fsync,
    maxObjectSize: config.maxObjectSize,
    maxKeyLength: config.maxKeyLength,
    presign: {
      ...(config.presignSecret
        ? { secret: new TextEncoder().encode(config.presignSecret) }
        : { keyFile: join(root, "presign.key") }),
      scope,
    },
  };
}

/** The `filesystem` backend of the storage plugin. */
export const filesystemBackend = defineBackend({
  config: FilesystemStorageConfig,
  system: "filesystem",
  create(ctx): StorageDriver {
    // Without presignSecret the key is generated once and kept in the storage root.
    return new FilesystemStorage(filesystemStorageOptions(ctx.config, ctx.name, ctx.dataDir));
  },
});
