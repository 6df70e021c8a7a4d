/**
 * Uploads of a body stream to S3 with memory bounded by design, not by the garbage collector's
 * timing. The body is copied into at most `concurrency + 1` part buffers of `partSize` bytes (one
 * filling while up to `concurrency` parts are sent), made on first use, reused part after part,
 * and freed the moment the upload ends. A buffer goes back to the pool only once the request
 * sending it settled, since the SDK resends the same bytes when it retries.
 *
 * Why not `@aws-sdk/lib-storage`: its chunker concatenates the body's chunks into a new buffer
 * for every part (and keeps the previous one alive through the remainder's view), so every part
 * is a fresh allocation that only a garbage collection returns. V8 lets about 64 MiB of such
 * external memory pile up before it collects, whatever the part size, so a 100 MiB upload raised
 * the peak RSS by about 125 MiB where `partSize * (concurrency + 1)` is 40 MiB. For the same
 * reason the body's own chunks (a fresh 64 KiB buffer per read of a request body) are released
 * as soon as they are copied; see {@linkcode UploadStreamOptions.releaseChunks}.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { storageError, tooLarge } from "./errors.ts";

/** S3 allows at most this many parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/**
 * Equal buffers made lazily up to `capacity`, handed out, taken back and handed out again; an
 * `acquire` beyond the capacity waits for a `release`. {@linkcode PartPool.close} frees them
 * all at once instead of leaving them to the garbage collector.
 */
export class PartPool {
  readonly partSize: number;
  readonly capacity: number;
  #made = 0;
  #free: Uint8Array[] = [];
  #waiting: { resolve: (buffer: Uint8Array) => void; reject: (error: Error) => void }[] = [];
  #closed = false;

  constructor(partSize: number, capacity: number) {
    if (!(capacity >= 1)) throw new RangeError("A part pool needs a capacity of at least 1");
    this.partSize = partSize;
    this.capacity = capacity;
  }

  /** Buffers made so far: never more than `capacity`. */
  get made(): number {
    return this.#made;
  }

  /** Buffers handed out and not released yet. */
  get inUse(): number {
    return this.#made - this.#free.length;
  }

  /** A free buffer, a new one while under the capacity, or else the next one released. */
  acquire(): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("The part pool is closed"));
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#made < this.capacity) {
      this.#made++;
      return Promise.resolve(new Uint8Array(this.partSize));
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Takes `buffer` back: to the next waiter, or to the free list (freed if the pool closed). */
  release(buffer: Uint8Array): void {
    if (this.#closed) {
      detach(buffer);
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(buffer);
    else this.#free.push(buffer);
  }

  /** Frees every free buffer now (one still out is freed on release); no `acquire` after. */
  close(): void {
    this.#closed = true;
    for (const buffer of this.#free.splice(0)) detach(buffer);
    for (const waiter of this.#waiting.splice(0)) {
      waiter.reject(new Error("The part pool is closed"));
    }
  }
}

/**
 * Returns a buffer's memory to the allocator now: detaching its ArrayBuffer frees the backing
 * store (or leaves it to an operation still holding it), where dropping the last reference
 * would wait for a garbage collection.
 */
function detach(bytes: Uint8Array): void {
  try {
    (bytes.buffer as ArrayBuffer).transfer(0);
  } catch {
    // Not detachable (a SharedArrayBuffer, or detached already): nothing to free here.
  }
}

/** True when `chunk` is all of its ArrayBuffer, so no other view can be reading that memory. */
function ownsBuffer(chunk: Uint8Array): boolean {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer;
}

/**
 * Reads a byte stream into part buffers. After each `fill` it knows whether bytes remain
 * (`ended`): a full part is followed by a read of the next chunk, so the first part alone tells
 * a single-request upload from a multipart one.
 */
class PartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #releaseChunks: boolean;
  /** The chunk being copied, and how much of it was copied already. */
  #chunk: Uint8Array | undefined;
  #offset = 0;
  #done = false;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, releaseChunks: boolean) {
    this.#reader = reader;
    this.#releaseChunks = releaseChunks;
  }

  /** No byte of the body is left to copy. */
  get ended(): boolean {
    return this.#done && this.#chunk === undefined;
  }

  /** Copies the body into `buffer` until it is full or the body ends; the bytes copied. */
  async fill(buffer: Uint8Array): Promise<number> {
    let length = 0;
    while (length < buffer.length) {
      const chunk = this.#chunk ?? await this.#next();
      if (chunk === undefined) return length;
      const count = Math.min(chunk.length - this.#offset, buffer.length - length);
      buffer.set(chunk.subarray(this.#offset, this.#offset + count), length);
      length += count;
      this.#offset += count;
      if (this.#offset === chunk.length) {
        this.#chunk = undefined;
        if (this.#releaseChunks && ownsBuffer(chunk)) detach(chunk);
      }
    }
    this.#chunk ??= await this.#next();
    return length;
  }

  /** The next non-empty chunk (now the current one), or `undefined` at the end of the body. */
  async #next(): Promise<Uint8Array | undefined> {
    while (!this.#done) {
      const result = await this.#reader.read();
      if (result.done) {
        this.#done = true;
      } else if (result.value.length > 0) {
        this.#chunk = result.value;
        this.#offset = 0;
        return result.value;
      } else if ((result.value.buffer as ArrayBuffer).detached) {
        // Its bytes are gone: skipping it would store a body with a hole, silently.
        throw storageError("storage.body_incomplete", {
          detail: "The body yielded a chunk whose buffer was released (a chunk sent twice)",
          field: "body",
        });
      }
    }
    return undefined;
  }
}

/** The S3 parameters stored with the object: its type, metadata and standard headers. */
export interface ObjectParams {
  ContentType: string;
  Metadata: Record<string, string>;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  Expires?: Date;
}

/** Options of {@linkcode uploadStream}. */
export interface UploadStreamOptions {
  client: S3Client;
  bucket: string;
  key: string;
  /** Bytes per part (S3 wants at least 5 MiB for every part but the last). */
  partSize: number;
  /** Parts sent at once; an upload holds at most `concurrency + 1` part buffers. */
  concurrency: number;
  params: ObjectParams;
  /** Sent with PutObject, or with CompleteMultipartUpload: the write happens only if they hold. */
  conditions?: { IfMatch?: string; IfNoneMatch?: string } | undefined;
  /**
   * Take ownership of the body's chunks: each chunk that is a whole ArrayBuffer of its own is
   * detached (its memory freed) once copied, as enqueueing into a byte stream would transfer it,
   * instead of waiting for a garbage collection. A view into a larger buffer is left alone. The
   * producer must not reuse a chunk it enqueued; one that does fails the upload.
   */
  releaseChunks?: boolean;
  /** Where part buffers come from; by default a pool of `concurrency + 1`, closed at the end. */
  pool?: PartPool;
}

/** What {@linkcode uploadStream} wrote. */
export interface UploadedStream {
  etag: string;
  size: number;
  /** 0 for a single PutObject, else the number of parts. */
  parts: number;
}

/**
 * Writes `body` to `options.key`: one PutObject when it fits in one part, else a multipart
 * upload with at most `concurrency` parts in flight. On any failure (the body's or the
 * service's) the body is cancelled, the parts in flight are aborted and, once they settled, the
 * multipart upload is aborted, so no part stays behind; the first error is rethrown as raised.
 */
export async function uploadStream(
  body: ReadableStream<Uint8Array>,
  options: UploadStreamOptions,
): Promise<UploadedStream> {
  const { client, bucket: Bucket, key: Key, partSize, concurrency } = options;
  const pool = options.pool ?? new PartPool(partSize, concurrency + 1);
  const reader = body.getReader();
  const parts = new PartReader(reader, options.releaseChunks ?? false);
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const done: { ETag: string; PartNumber: number }[] = [];
  let failure: { error: unknown } | undefined;
  let uploadId: Promise<string> | undefined;
  let size = 0;
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    abort.abort(error);
    // Ends a read in progress too: nothing more of the body is wanted.
    reader.cancel(error).catch(() => {/* the body failed first, or is gone already */});
  };
  /** Throws the upload's failure, which a part or the body may have set meanwhile. */
  const assertGoing = () => {
    if (failure) throw failure.error;
  };
  const sendPart = async (part: Uint8Array, PartNumber: number): Promise<void> => {
    try {
      const UploadId = await uploadId;
      const output = await client.send(
        new UploadPartCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber,
          Body: part,
          ContentLength: part.length,
        }),
        { abortSignal: abort.signal },
      );
      if (!output.ETag) throw new Error(`UploadPart ${PartNumber} answered no ETag`);
      done.push({ ETag: output.ETag, PartNumber });
    } catch (error) {
      fail(error);
    }
  };
  // The buffer being filled (or sent alone): the one not owned by a part in flight.
  let filling: Uint8Array | undefined;
  try {
    filling = await pool.acquire();
    let length = await parts.fill(filling);
    size += length;
    if (parts.ended) {
      const output = await client.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: filling.subarray(0, length),
          ContentLength: length,
          ...options.params,
          ...options.conditions,
        }),
      );
      return { etag: output.ETag ?? "", size, parts: 0 };
    }
    // Not aborted with the parts: once it was sent, its UploadId is what aborting needs.
    uploadId = client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...options.params }))
      .then((output) => {
        if (!output.UploadId) throw new Error("CreateMultipartUpload answered no UploadId");
        return output.UploadId;
      });
    // Awaited by the parts and the abort; this also keeps its failure from going unhandled.
    uploadId.catch(fail);
    for (let partNumber = 1;; partNumber++) {
      if (partNumber > MAX_PARTS) throw tooLarge(partSize * MAX_PARTS);
      const held = filling;
      filling = undefined;
      const sending = sendPart(held.subarray(0, length), partNumber).finally(() => {
        pool.release(held);
        inFlight.delete(sending);
      });
      inFlight.add(sending);
      if (parts.ended) break;
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
      assertGoing();
      filling = await pool.acquire();
      length = await parts.fill(filling);
      size += length;
      assertGoing();
      // The body ended exactly at a part boundary: no empty last part.
      if (length === 0) break;
    }
    await Promise.all(inFlight);
    assertGoing();
    done.sort((a, b) => a.PartNumber - b.PartNumber);
    const output = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: await uploadId,
        MultipartUpload: { Parts: done },
        ...options.conditions,
      }),
    );
    return { etag: output.ETag ?? "", size, parts: done.length };
  } catch (error) {
    fail(error);
    await Promise.all(inFlight);
    if (uploadId) {
      // After the parts settled: a part completing after the abort would stay stored.
      const UploadId = await uploadId.catch(() => undefined);
      if (UploadId !== undefined) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
          .catch(() => {/* the bucket's lifecycle rules reclaim what an abort could not */});
      }
    }
    throw failure?.error ?? error;
  } finally {
    if (filling) pool.release(filling);
    reader.releaseLock();
    if (!options.pool) pool.close();
  }
}
