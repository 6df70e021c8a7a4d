/**
 * The body of a request to a plugin mount, as the route reads it: counted against the mount's
 * limit while it streams (413), failed when the client stops sending for longer than the stall
 * timeout (408), and, when its content type is JSON, decoded and checked strictly
 * (`core/strict_json.ts`) before a route parses it.
 *
 * The body is swapped in on the request object itself (its own `body`, `text`, `json`, ...
 * shadow the prototype's): constructing a new `Request` would re-parse its URL, which resolves
 * dot segments after auth had judged the path, and would read the request's legacy abort signal.
 */
import { coreError, type EdgeboxError } from "./errors.ts";
import { decodeUtf8, parseStrictJson } from "./strict_json.ts";

/** Limits applied to one request body. */
export interface BodyLimits {
  /** Largest body, in bytes. */
  limit: number;
  /** Deepest JSON nesting accepted. */
  maxJsonDepth: number;
}

/** A body being read: why it failed, if it did, for the answer to report instead of the route's. */
export interface GuardedBody {
  /** After the route answered: the 408/413/400 problem that caused its failure, if any. */
  problem(): EdgeboxError | undefined;
}

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;

/**
 * Fails bodies that make no progress for `timeout` milliseconds. One coarse timer sweeps every
 * body being read, rather than a timer re-armed on every chunk.
 */
export class StallWatch {
  readonly #timeout: number;
  readonly #reading = new Set<{ last: number; stall: () => void }>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Starts watching a body; the returned handle records progress and ends the watch. */
  watch(stall: () => void): { progress(): void; done(): void } {
    const entry = { last: performance.now(), stall };
    this.#reading.add(entry);
    this.#timer ??= setInterval(() => this.#sweep(), Math.min(1_000, this.#timeout / 4));
    return {
      progress: () => entry.last = performance.now(),
      done: () => {
        this.#reading.delete(entry);
        if (this.#reading.size === 0) this.#stop();
      },
    };
  }

  /** Stops the timer (bodies still being read can no longer stall). Safe to call twice. */
  close(): void {
    this.#reading.clear();
    this.#stop();
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#reading) {
      if (now - entry.last > this.#timeout) {
        this.#reading.delete(entry);
        entry.stall();
      }
    }
    if (this.#reading.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Guards `request`'s body in place. Throws the 413 at once when `Content-Length` is over the
 * limit; returns `undefined` when there is no body.
 */
export function guardBody(
  request: Request,
  limits: BodyLimits,
  stalls: StallWatch,
): GuardedBody | undefined {
  const source = request.body;
  if (!source) return undefined;
  const { limit } = limits;
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > limit && !request.headers.has("transfer-encoding")) {
    throw tooLarge(limit);
  }
  let problem: EdgeboxError | undefined;
  let seen = 0;
  let controls: TransformStreamDefaultController<Uint8Array> | undefined;
  let watch: { progress(): void; done(): void } | undefined;
  let finished = false;
  const finish = () => {
    finished = true;
    watch?.done();
  };
  // The stall clock starts when the route starts reading: a body no route reads costs nothing.
  const reading = () => {
    if (watch || finished) return;
    watch = stalls.watch(() => {
      problem ??= coreError("core.body_timeout", {
        detail: "The client stopped sending the request body",
        field: "body",
      });
      finished = true;
      try {
        controls?.error(problem);
      } catch { /* already errored or closed: nothing left to stop */ }
    });
  };
  const body = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        controls = controller;
      },
      transform(chunk, controller) {
        watch?.progress();
        seen += chunk.byteLength;
        if (seen > limit) {
          problem ??= tooLarge(limit);
          finish();
          controller.error(problem);
        } else controller.enqueue(chunk);
      },
      flush: finish,
      cancel: finish,
    }),
  );
  const json = JSON_TYPE.test(request.headers.get("content-type") ?? "");
  const bytes = async (): Promise<Uint8Array> => {
    reading();
    try {
      return await new Response(body).bytes();
    } catch (error) {
      finish();
      throw problem ?? error;
    }
  };
  const text = async (): Promise<string> => {
    const received = await bytes();
    try {
      const decoded = decodeUtf8(received, { json });
      if (json) parseStrictJson(decoded, { maxDepth: limits.maxJsonDepth });
      return decoded;
    } catch (error) {
      problem ??= error as EdgeboxError;
      throw error;
    }
  };
  const withType = () => {
    const type = request.headers.get("content-type");
    return type === null ? {} : { "content-type": type };
  };
  Object.defineProperties(request, {
    body: {
      get: () => {
        reading();
        return body;
      },
    },
    bodyUsed: { get: () => body.locked },
    bytes: { value: bytes },
    arrayBuffer: { value: async () => (await bytes()).buffer },
    text: { value: text },
    json: { value: async () => JSON.parse(await text()) },
    blob: {
      value: async () =>
        new Blob([(await bytes()) as Uint8Array<ArrayBuffer>], {
          type: request.headers.get("content-type") ?? "",
        }),
    },
    formData: {
      value: () => {
        reading();
        return new Response(body, { headers: withType() }).formData();
      },
    },
    clone: {
      value: () => {
        throw new TypeError("A guarded request body cannot be cloned");
      },
    },
  });
  return { problem: () => problem };
}

function tooLarge(limit: number): EdgeboxError {
  return coreError("core.body_too_large", {
    detail: `The request body exceeds the limit of ${limit} bytes`,
    field: "body",
    extra: { limit },
  });
}
