/** The cache's hit metrics: hits, misses and the hit ratio of one instance since it started. */
import type { Metrics } from "../../core/metrics.ts";

/** Registers the instance's hit metrics; the answer is what a driver tells of each read. */
export function lookupCounter(metrics: Metrics): (hit: boolean) => void {
  const hits = metrics.counter("edgebox_cache_hits_total", "Cache reads that found the key");
  const misses = metrics.counter(
    "edgebox_cache_misses_total",
    "Cache reads that found nothing (absent or expired)",
  );
  const ratio = metrics.gauge(
    "edgebox_cache_hit_ratio",
    "Hits / (hits + misses) since the instance started",
  );
  let found = 0;
  let missed = 0;
  return (hit) => {
    if (hit) {
      found++;
      hits.inc();
    } else {
      missed++;
      misses.inc();
    }
    ratio.set(found / (found + missed));
  };
}
