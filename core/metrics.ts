/**
 * The metrics interface plugins receive as `ctx.metrics`. The core ships a no-op
 * implementation; the observability plugin provides a real one, so plugins never import a
 * metrics library themselves.
 */

/** Label values of one series. Keep them bounded: never raw paths or user input. */
export type Labels = Record<string, string>;

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: Labels, value?: number): void;
}

/** A distribution of observed values (durations in seconds, sizes in bytes). */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
}

/** Creates named instruments. */
export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  histogram(name: string, help: string, labelNames?: readonly string[]): Histogram;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
}

/** Instruments that record nothing, used when no metrics backend is enabled. */
export const noopMetrics: Metrics = {
  counter: () => ({ inc() {} }),
  histogram: () => ({ observe() {} }),
  gauge: () => ({ set() {} }),
};
