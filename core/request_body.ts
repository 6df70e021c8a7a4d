/**
 * The body of a request to a plugin mount, as the route reads it: counted against the mount's
 * limit while it streams (413), failed when the client stops sending for longer than the stall
 * timeout (408), and, when its content type is JSON, decoded and checked strictly
 * (`core/strict_json.ts`) before a route parses it.
 *
 * The body is swapped in on the request object itself (its prototype becomes one whose `body`,
 * `text`, `json`, ... read through the guard): constructing a new `Request` would re-parse its
 * URL, which resolves dot segments after auth had judged the path, and would read the request's
 * legacy abort signal.
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
 * body being read, rather than a timer per body: it starts with the first read and stops at the
 * first sweep that finds nothing to watch (or at `close`), so a busy server never re-arms it.
 */
export class StallWatch {
  readonly #timeout: number;
  readonly #reading = new Set<{ last: number; stall: () => void }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Starts watching a body; the returned handle records progress and ends the watch. */
  watch(stall: () => void): { progress(): void; done(): void } {
    const entry = { last: performance.now(), stall };
    if (this.#closed) return { progress: () => {}, done: () => {} };
    this.#reading.add(entry);
    this.#timer ??= setInterval(() => this.#sweep(), Math.min(1_000, this.#timeout / 4));
    return {
      progress: () => entry.last = performance.now(),
      done: () => this.#reading.delete(entry),
    };
  }

  /** Stops watching for good (bodies still being read can no longer stall). Safe to call twice. */
  close(): void {
    this.#closed = true;
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

/** Where a guarded request keeps its {@linkcode BodyGuard}. */
const GUARD = Symbol("edgebox.bodyGuard");

/** A request whose body members the guard has taken over. */
type GuardedRequest = Request & { [GUARD]: BodyGuard };

/** The prototype's members, called on a request whose own ones the guard shadows. */
const native = {
  body: Object.getOwnPropertyDescriptor(Request.prototype, "body")!.get! as (
    this: Request,
  ) => ReadableStream<Uint8Array> | null,
  bodyUsed: Object.getOwnPropertyDescriptor(Request.prototype, "bodyUsed")!.get! as (
    this: Request,
  ) => boolean,
  bytes: Request.prototype.bytes,
};

/** One request's body: how it is read, and what went wrong reading it. */
class BodyGuard implements GuardedBody {
  #problem: EdgeboxError | undefined;
  /** The counting stream, once a route reads the body as a stream (null: no body after all). */
  #counted: ReadableStream<Uint8Array> | null | undefined;

  constructor(
    readonly request: Request,
    readonly limits: BodyLimits,
    readonly stalls: StallWatch,
    /** True when the body's length is not known up front, so it is counted as it streams. */
    readonly unsized: boolean,
    readonly json: boolean,
  ) {}

  problem(): EdgeboxError | undefined {
    return this.#problem;
  }

  get used(): boolean {
    return this.#counted !== undefined || native.bodyUsed.call(this.request);
  }

  stream(): ReadableStream<Uint8Array> | null {
    if (this.#counted !== undefined) return this.#counted;
    const source = native.body.call(this.request);
    return this.#counted = source && countedStream(source, this.limits.limit, this.stalls, {
      tooLarge: () => this.#problem ??= tooLarge(this.limits.limit),
      stalled: () => this.#stalled(),
    });
  }

  bytes(): Promise<Uint8Array> {
    if (!this.unsized && this.#counted === undefined) {
      // Known to be within the limit: Deno's native read, timed as a whole (no progress to see).
      return new Promise((resolve, reject) => {
        const watch = this.stalls.watch(() => reject(this.#stalled()));
        native.bytes.call(this.request).then((received) => {
          watch.done();
          resolve(received);
        }, (error) => {
          watch.done();
          reject(this.#problem ?? error);
        });
      });
    }
    return new Response(this.stream()).bytes().catch((error) => {
      throw this.#problem ?? error;
    });
  }

  async text(): Promise<string> {
    const received = await this.bytes();
    try {
      const decoded = decodeUtf8(received, { json: this.json });
      if (this.json) parseStrictJson(decoded, { maxDepth: this.limits.maxJsonDepth });
      return decoded;
    } catch (error) {
      this.#problem ??= error as EdgeboxError;
      throw error;
    }
  }

  #stalled(): EdgeboxError {
    return this.#problem ??= coreError("core.body_timeout", {
      detail: "The client stopped sending the request body",
      field: "body",
    });
  }
}

/**
 * What a guarded request reads its body through: the members of `Request` that touch the body,
 * answered by the request's guard. One prototype swap per request instead of defining each
 * member on each request (measured: a fifth of the time).
 */
const guardedPrototype: Request = Object.create(Request.prototype, {
  body: {
    get(this: GuardedRequest) {
      return this[GUARD].stream();
    },
  },
  bodyUsed: {
    get(this: GuardedRequest) {
      return this[GUARD].used;
    },
  },
  bytes: {
    value(this: GuardedRequest) {
      return this[GUARD].bytes();
    },
  },
  arrayBuffer: {
    async value(this: GuardedRequest) {
      return (await this[GUARD].bytes()).buffer;
    },
  },
  text: {
    value(this: GuardedRequest) {
      return this[GUARD].text();
    },
  },
  json: {
    async value(this: GuardedRequest) {
      return JSON.parse(await this[GUARD].text());
    },
  },
  blob: {
    async value(this: GuardedRequest) {
      const bytes = (await this[GUARD].bytes()) as Uint8Array<ArrayBuffer>;
      return new Blob([bytes], { type: this.headers.get("content-type") ?? "" });
    },
  },
  formData: {
    async value(this: GuardedRequest) {
      const bytes = (await this[GUARD].bytes()) as Uint8Array<ArrayBuffer>;
      const type = this.headers.get("content-type");
      return new Response(bytes, type === null ? {} : { headers: { "content-type": type } })
        .formData();
    },
  },
  clone: {
    value() {
      throw new TypeError("A guarded request body cannot be cloned");
    },
  },
});

/**
 * Guards `request`'s body in place. Throws the 413 at once when `Content-Length` is over the
 * limit; returns `undefined` when there is no body. The body stream is only created (and
 * counted) when a route reads it as a stream, or when it has no `Content-Length`.
 */
export function guardBody(
  request: Request,
  limits: BodyLimits,
  stalls: StallWatch,
): GuardedBody | undefined {
  const headers = request.headers;
  const length = headers.get("content-length");
  // No usable length (chunked, HTTP/2, a Request built in-process): counted as it streams.
  const unsized = length === null || headers.has("transfer-encoding");
  if (length === null && native.body.call(request) === null) return undefined;
  if (!unsized && Number(length) > limits.limit) throw tooLarge(limits.limit);
  const json = JSON_TYPE.test(headers.get("content-type") ?? "");
  const guard = new BodyGuard(request, limits, stalls, unsized, json);
  (request as GuardedRequest)[GUARD] = guard;
  Object.setPrototypeOf(request, guardedPrototype);
  return guard;
}

/**
 * `source` counted against `limit` (erroring with `tooLarge()` past it) and watched for stalls
 * from now on (erroring with `stalled()` when no chunk arrives for the watch's timeout).
 */
function countedStream(
  source: ReadableStream<Uint8Array>,
  limit: number,
  stalls: StallWatch,
  problems: { tooLarge: () => EdgeboxError; stalled: () => EdgeboxError },
): ReadableStream<Uint8Array> {
  let seen = 0;
  let controls: TransformStreamDefaultController<Uint8Array> | undefined;
  const watch = stalls.watch(() => {
    try {
      controls?.error(problems.stalled());
    } catch { /* already errored or closed: nothing left to stop */ }
  });
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        controls = controller;
      },
      transform(chunk, controller) {
        watch.progress();
        seen += chunk.byteLength;
        if (seen > limit) {
          watch.done();
          controller.error(problems.tooLarge());
        } else controller.enqueue(chunk);
      },
      flush: () => watch.done(),
      cancel: () => watch.done(),
    }),
  );
}

function tooLarge(limit: number): EdgeboxError {
  return coreError("core.body_too_large", {
    detail: `The request body exceeds the limit of ${limit} bytes`,
    field: "body",
    extra: { limit },
  });
}
