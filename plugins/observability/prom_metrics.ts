/**
 * The core's `Metrics` interface on top of prom-client, recording into one private registry
 * (never prom-client's global one, so two apps in one process, or tests, never share series).
 *
 * Instruments are deduplicated by name: two plugin instances asking for `cache_hits_total` get
 * the same family and tell their series apart by the `instance` label the core adds. A metric
 * must never break the request that records it, so a conflicting declaration or a bad label is
 * reported once and turns that instrument into a no-op instead of throwing.
 */
import { Counter, Gauge, type Histogram, type Registry } from "./prom_client.ts";
import type {
  Counter as CoreCounter,
  Gauge as CoreGauge,
  Histogram as CoreHistogram,
  Labels,
  Metrics,
} from "../../core/metrics.ts";

/** Options of {@linkcode PromMetrics}. */
export interface PromMetricsOptions {
  /** Where every instrument registers. */
  registry: Registry;
  /** Bucket upper bounds (seconds) of every histogram. */
  buckets: readonly number[];
  /** Most label combinations one metric may hold; further series are dropped and counted. */
  maxSeries: number;
  /** Told about a conflicting declaration or a rejected observation, once per metric. */
  onProblem?: (message: string, fields: Record<string, unknown>) => void;
}

type Kind = "counter" | "histogram" | "gauge";
type Instrument = CoreCounter | CoreHistogram | CoreGauge;

interface Family {
  kind: Kind;
  /** Label names in declaration order (the order series keys are built in). */
  labelNames: readonly string[];
  /** Sorted label names, to compare declarations regardless of order. */
  signature: string;
  instrument: Instrument;
}

const noopCounter: CoreCounter = { inc() {} };
const noopHistogram: CoreHistogram = { observe() {} };
const noopGauge: CoreGauge = { set() {} };

/** prom-client instruments behind the core's metrics interface, deduplicated by name. */
export class PromMetrics implements Metrics {
  readonly #options: PromMetricsOptions;
  readonly #families = new Map<string, Family>();
  readonly #reported = new Set<string>();
  readonly #dropped: Counter<"metric">;

  constructor(options: PromMetricsOptions) {
    this.#options = options;
    this.#dropped = new Counter({
      name: "edgebox_metrics_series_dropped_total",
      help: "Observations dropped because their metric reached metrics.maxSeries label sets",
      labelNames: ["metric"],
      registers: [options.registry],
    });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): CoreCounter {
    return this.#family(name, "counter", labelNames, () => {
      // A frozen label set (the core's per-route sets) counts into a plain cell on the hot path;
      // prom-client receives the cells' totals when it collects, just before a scrape reads them.
      const cells = new Map<Labels, { pending: number }>();
      const metric = new Counter({
        name,
        help,
        labelNames: [...labelNames],
        registers: [this.#options.registry],
        collect() {
          for (const [labels, cell] of cells) {
            if (cell.pending === 0) continue;
            this.inc(labels, cell.pending);
            cell.pending = 0;
          }
        },
      });
      const admit = this.#admission(name, labelNames);
      const maxCells = this.#options.maxSeries;
      return {
        inc: (labels?: Labels, value = 1) => {
          const cell = labels ? cells.get(labels) : undefined;
          if (cell && value >= 0) {
            cell.pending += value;
            return;
          }
          if (!cell && !admit(labels)) return;
          try {
            // The first sight of a label set goes through prom-client, which validates it.
            if (labels) metric.inc(labels, value);
            else metric.inc(value);
          } catch (error) {
            this.#report(name, "Cannot record metric", error);
            return;
          }
          if (!cell && labels && Object.isFrozen(labels) && cells.size < maxCells) {
            cells.set(labels, { pending: 0 });
          }
        },
      };
    }, noopCounter) as CoreCounter;
  }

  histogram(name: string, help: string, labelNames: readonly string[] = []): CoreHistogram {
    return this.#family(name, "histogram", labelNames, () => {
      // Series live in cells of our own, handed to the registry through its public
      // `registerMetric` contract (an object whose `get()` answers the series), so a frozen label
      // set counts straight into its cell with no key built per observation.
      const family = new HistogramCells(name, help, labelNames, this.#options.buckets);
      this.#options.registry.registerMetric(family as unknown as Histogram);
      const admit = this.#admission(name, labelNames);
      return {
        observe: (value: number, labels?: Labels) => {
          if (!Number.isFinite(value)) return;
          const known = family.known(labels);
          if (known) return known.observe(value);
          if (!admit(labels)) return;
          const problem = family.problemWith(labels);
          if (problem) return this.#report(name, "Cannot record metric", new Error(problem));
          family.series(labels).observe(value);
        },
      };
    }, noopHistogram) as CoreHistogram;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): CoreGauge {
    return this.#family(name, "gauge", labelNames, () => {
      // As for counters: a frozen label set (and the unlabelled series) keeps its latest value
      // in a plain cell, handed to prom-client when it collects.
      const cells = new Map<Labels | undefined, { value: number; dirty: boolean }>();
      const metric = new Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers: [this.#options.registry],
        collect() {
          for (const [labels, cell] of cells) {
            if (!cell.dirty) continue;
            if (labels) this.set(labels, cell.value);
            else this.set(cell.value);
            cell.dirty = false;
          }
        },
      });
      const admit = this.#admission(name, labelNames);
      const maxCells = this.#options.maxSeries;
      return {
        set: (value: number, labels?: Labels) => {
          const cell = cells.get(labels);
          if (cell && Number.isFinite(value)) {
            cell.value = value;
            cell.dirty = true;
            return;
          }
          if (!cell && !admit(labels)) return;
          try {
            // The first sight of a label set goes through prom-client, which validates it.
            if (labels) metric.set(labels, value);
            else metric.set(value);
          } catch (error) {
            this.#report(name, "Cannot record metric", error);
            return;
          }
          if (!cell && (!labels || Object.isFrozen(labels)) && cells.size < maxCells) {
            cells.set(labels, { value, dirty: false });
          }
        },
      };
    }, noopGauge) as CoreGauge;
  }

  /** The existing family of that name, a new one, or a no-op when the declarations differ. */
  #family(
    name: string,
    kind: Kind,
    labelNames: readonly string[],
    create: () => Instrument,
    noop: Instrument,
  ): Instrument {
    const signature = [...labelNames].sort().join(",");
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.kind === kind && existing.signature === signature) return existing.instrument;
      this.#report(
        name,
        `Cannot declare metric "${name}" as ${kind} {${signature}}: it is already a ${existing.kind} {${existing.signature}}`,
      );
      return noop;
    }
    let instrument: Instrument;
    try {
      instrument = create();
    } catch (error) {
      // An invalid metric or label name: prom-client refuses it at construction.
      this.#report(name, `Cannot declare metric "${name}"`, error);
      return noop;
    }
    this.#families.set(name, { kind, labelNames, signature, instrument });
    return instrument;
  }

  /** A check that admits observations of known series, and of new ones up to `maxSeries`. */
  #admission(name: string, labelNames: readonly string[]): (labels?: Labels) => boolean {
    if (labelNames.length === 0) return () => true;
    const gate = new SeriesGate(labelNames, this.#options.maxSeries);
    return (labels) => {
      if (gate.admit(labels)) return true;
      this.#dropped.inc({ metric: name });
      this.#report(
        name,
        `Metric "${name}" reached ${this.#options.maxSeries} series; dropping new ones`,
      );
      return false;
    };
  }

  #report(name: string, message: string, error?: unknown): void {
    const key = `${name}\u0000${message}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#options.onProblem?.(message, {
      metric: name,
      ...(error === undefined ? {} : { error: error instanceof Error ? error.message : error }),
    });
  }
}

PromMetrics satisfies new (options: PromMetricsOptions) => Metrics;

/** One histogram series: per-bucket (not cumulative) counts, their sum and count. */
class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += 1;
        return;
      }
    }
  }
}

/** A label name Prometheus accepts (and that is not reserved for it). */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A histogram family kept in our own cells and read by the registry through `get()`, the shape
 * prom-client formats for every metric (`_bucket` with `le`, `_sum`, `_count`).
 */
class HistogramCells {
  readonly type = "histogram";
  readonly aggregator = "sum";
  #byKey = new Map<string, HistogramSeries>();
  #byLabels = new WeakMap<Labels, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`Invalid metric name "${name}"`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new Error(`Invalid label name "${label}"`);
      }
    }
  }

  /** The series of a label set already seen by identity (the core's frozen sets). */
  known(labels: Labels | undefined): HistogramSeries | undefined {
    return labels ? this.#byLabels.get(labels) : this.#byKey.get("");
  }

  /** Why a label set cannot be recorded, if it cannot. */
  problemWith(labels: Labels | undefined): string | undefined {
    for (const label of Object.keys(labels ?? {})) {
      if (!this.labelNames.includes(label)) {
        return `Added label "${label}" is not included in initial labelset: ${
          JSON.stringify(this.labelNames)
        }`;
      }
    }
    return undefined;
  }

  /** The series of a label set, created on first sight. */
  series(labels: Labels | undefined): HistogramSeries {
    const key = labels ? this.labelNames.map((n) => String(labels[n] ?? "")).join("\u0000") : "";
    let series = this.#byKey.get(key);
    if (!series) {
      series = new HistogramSeries(labels ? { ...labels } : {}, this.bounds);
      this.#byKey.set(key, series);
    }
    if (labels && Object.isFrozen(labels)) this.#byLabels.set(labels, series);
    return series;
  }

  /** What the registry formats: cumulative buckets, `+Inf`, sum and count per series. */
  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] =
      [];
    for (const series of this.#byKey.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({
          labels: { ...series.labels, le: this.bounds[i]! },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        labels: { ...series.labels, le: "+Inf" },
        value: series.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: series.labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: series.labels, value: series.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /** Forgets every series (the registry's `resetMetrics`). */
  reset(): void {
    this.#byKey = new Map();
    this.#byLabels = new WeakMap();
  }
}

/**
 * Remembers the label sets a metric has seen, as a tree of maps keyed by each label's value in
 * turn: a known series costs one map lookup per label on strings whose hashes V8 has already
 * cached (route templates, methods), where joining them into one key would build and hash a new
 * string on every observation.
 */
class SeriesGate {
  readonly #labelNames: readonly string[];
  readonly #max: number;
  readonly #root = new Map<string, unknown>();
  #count = 0;

  constructor(labelNames: readonly string[], max: number) {
    this.#labelNames = labelNames;
    this.#max = max;
  }

  /** True for a known label set, and for a new one while there is room (it is then known). */
  admit(labels: Labels | undefined): boolean {
    const names = this.#labelNames;
    const last = names.length - 1;
    let node = this.#root;
    for (let i = 0; i < last; i++) {
      const next = node.get(labels?.[names[i]!] ?? "") as Map<string, unknown> | undefined;
      if (next === undefined) return this.#add(labels);
      node = next;
    }
    return node.has(labels?.[names[last]!] ?? "") || this.#add(labels);
  }

  /** Adds a new label set, unless the metric is full. */
  #add(labels: Labels | undefined): boolean {
    if (this.#count >= this.#max) return false;
    const names = this.#labelNames;
    let node = this.#root;
    for (let i = 0; i < names.length - 1; i++) {
      const value = labels?.[names[i]!] ?? "";
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(value, next = new Map());
      node = next;
    }
    node.set(labels?.[names[names.length - 1]!] ?? "", true);
    this.#count++;
    return true;
  }
}
