/**
 * Deadlines for many concurrent operations that share one timeout, kept by one coarse timer
 * instead of a timer per operation: on a busy path (a Redis command per request) arming and
 * clearing a timer each time costs more than the command's own bookkeeping.
 */

/** Options of {@linkcode Deadlines}. */
export interface DeadlinesOptions {
  /** How late a deadline may fire, in milliseconds (default: a tenth of the timeout, 5 to 50). */
  resolution?: number;
}

interface Pending {
  at: number;
  expire: () => void;
}

/** Rejects an operation that outlives `timeout` milliseconds (plus at most the resolution). */
export class Deadlines {
  readonly #timeout: number;
  readonly #resolution: number;
  /** In insertion order, which is deadline order: every entry has the same timeout. */
  readonly #pending = new Set<Pending>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(timeout: number, options: DeadlinesOptions = {}) {
    this.#timeout = timeout;
    this.#resolution = options.resolution ?? Math.min(50, Math.max(5, Math.round(timeout / 10)));
  }

  /** The timeout, in milliseconds. */
  get timeout(): number {
    return this.#timeout;
  }

  /**
   * Settles as `work` does, or rejects with `timedOut()` once the timeout has passed. The
   * operation itself is not cancelled: whoever started it must be able to let it finish.
   */
  run<T>(work: Promise<T>, timedOut: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        at: performance.now() + this.#timeout,
        expire: () => reject(timedOut()),
      };
      this.#pending.add(entry);
      this.#arm();
      work.then(
        (value) => {
          this.#settle(entry);
          resolve(value);
        },
        (error) => {
          this.#settle(entry);
          reject(error);
        },
      );
    });
  }

  /** Stops the timer; operations still running can no longer time out. Safe to call twice. */
  close(): void {
    this.#pending.clear();
    this.#disarm();
  }

  #settle(entry: Pending): void {
    this.#pending.delete(entry);
    if (this.#pending.size === 0) this.#disarm();
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    // Ref'd, like a timer per operation would be: a pending operation is awaited until its
    // deadline at most, and the timer stops as soon as nothing is pending.
    this.#timer = setInterval(() => this.#sweep(), this.#resolution);
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#pending) {
      if (entry.at > now) break;
      this.#pending.delete(entry);
      entry.expire();
    }
    if (this.#pending.size === 0) this.#disarm();
  }
}
