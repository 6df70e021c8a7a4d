/** Timeouts and abortable sleeps for lifecycle hooks and retries. */

/** A hook that did not settle in time. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(readonly what: string, readonly ms: number) {
    super(`${what} did not finish within ${ms}ms`);
  }
}

/** Settles like `work`, or rejects with {@linkcode TimeoutError} after `ms`. */
export function withTimeout<T>(
  work: (signal: AbortSignal) => T | Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  return timedHook(work, ms, what).result;
}

/**
 * Runs `work` with a deadline: `result` rejects with {@linkcode TimeoutError} after `ms`, and the
 * signal `work` receives aborts then, so work that listens stops too. `settled` resolves when
 * `work` itself has finished, however late: what must not run twice waits for it.
 */
export function timedHook<T>(
  work: (signal: AbortSignal) => T | Promise<T>,
  ms: number,
  what: string,
): { result: Promise<T>; settled: Promise<void> } {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(what, ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  const running = Promise.resolve().then(() => work(controller.signal));
  const result = Promise.race([running, deadline]).finally(() => clearTimeout(timer));
  return { result, settled: running.then(() => {}, () => {}) };
}

/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Exponential backoff with full jitter on the upper half: attempt 0 waits about `initial`. */
export function backoff(attempt: number, initial: number, max: number): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
