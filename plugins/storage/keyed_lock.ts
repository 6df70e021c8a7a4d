/**
 * Mutual exclusion per key, within one process: the filesystem backend commits an object
 * (check, rename, drop the old blob) as one step so concurrent writers never leak or lose a blob.
 */

/** Runs critical sections one at a time per key; different keys run in parallel. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier section for `key` has settled. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((resolve) => release = resolve);
    const mine = previous.then(() => tail);
    this.#tails.set(key, mine);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === mine) this.#tails.delete(key);
    }
  }
}
