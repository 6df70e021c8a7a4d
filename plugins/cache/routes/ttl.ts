/** How the cache routes show a time to live: whole seconds left. */

/** Seconds left, rounded up (a live entry never shows 0); `undefined` without expiry. */
export function ttlSeconds(ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : Math.ceil(ttlMs / 1000);
}
