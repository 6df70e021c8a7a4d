/**
 * Body streams that check themselves as they flow: a byte limit, checksums verified at the end
 * of the body, and a byte counter, without ever holding more than one chunk. An error from the
 * source (a client that hung up) becomes `storage.body_incomplete`; every error reaches the
 * reader before the body's end does, so a driver never commits a body that failed a check.
 */
import { createHash, type Hash } from "node:crypto";
import { EdgeboxError } from "../../core/errors.ts";
import { storageError, tooLarge } from "./errors.ts";

/** A checksum the body must match. */
export interface ExpectedChecksum {
  algorithm: "md5" | "sha256";
  /** The raw digest. */
  digest: Uint8Array;
  /** The request field it came from (`header.content-md5`). */
  field: string;
}

/** Options of {@linkcode checkedBody}. */
export interface CheckedBodyOptions {
  /** More bytes than this fail the stream with `storage.too_large`. */
  maxSize?: number;
  checksums?: readonly ExpectedChecksum[];
  /** Called with each chunk's length as it passes. */
  onBytes?: (bytes: number) => void;
}

/** A checked stream and the number of bytes that went through it so far. */
export interface CheckedBody {
  stream: ReadableStream<Uint8Array>;
  bytes(): number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Wraps `source` so it enforces `options` as it is read. */
export function checkedBody(
  source: ReadableStream<Uint8Array>,
  options: CheckedBodyOptions = {},
): CheckedBody {
  const reader = source.getReader();
  const hashes: [ExpectedChecksum, Hash][] = (options.checksums ?? []).map((c) => [
    c,
    createHash(c.algorithm),
  ]);
  let bytes = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        controller.error(
          error instanceof EdgeboxError ? error : storageError("storage.body_incomplete", {
            detail: "The request body ended before it was complete",
            field: "body",
            cause: error,
          }),
        );
        return;
      }
      if (result.done) {
        for (const [expected, hash] of hashes) {
          if (!sameBytes(new Uint8Array(hash.digest()), expected.digest)) {
            controller.error(storageError("storage.checksum_mismatch", {
              detail: `The body does not match its ${expected.algorithm.toUpperCase()} checksum`,
              field: expected.field,
            }));
            return;
          }
        }
        controller.close();
        return;
      }
      const chunk = result.value;
      bytes += chunk.byteLength;
      if (options.maxSize !== undefined && bytes > options.maxSize) {
        const error = tooLarge(options.maxSize);
        reader.cancel(error).catch(() => {/* the source is gone either way */});
        controller.error(error);
        return;
      }
      for (const [, hash] of hashes) hash.update(chunk);
      options.onBytes?.(chunk.byteLength);
      controller.enqueue(chunk);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { stream, bytes: () => bytes };
}

/** Passes `source` through, reporting each chunk's length (bytes sent, for metrics). */
export function countedStream(
  source: ReadableStream<Uint8Array>,
  onBytes: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        onBytes(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}
