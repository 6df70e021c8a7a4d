/**
 * The core's `Metrics` interface on top of prom-client, recording into one private registry
 * (never prom-client's global one, so two apps in one process, or tests, never share series).
 *
 * Instruments are deduplicated by name: two plugin instances asking for `cache_hits_total` get
 * the same family and tell their series apart by the `instance` label the core adds. A metric
 * must never break the request that records it, so a conflicting declaration or a bad label is
 * reported once and turns that instrument into a no-op instead of throwing.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
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
      const buckets = [...this.#options.buckets];
      const metric = new Histogram({
        name,
        help,
        labelNames: [...labelNames],
        buckets,
        registers: [this.#options.registry],
      });
      const admit = this.#admission(name, labelNames);
      let cells = new WeakMap<Labels, HistogramSeries>();
      const reset = metric.reset.bind(metric);
      metric.reset = () => {
        reset();
        cells = new WeakMap(); // the series recorded so far are gone
      };
      return {
        observe: (value: number, labels?: Labels) => {
          const series = labels ? cells.get(labels) : undefined;
          if (series && Number.isFinite(value)) {
            series.sum += value;
            series.count += 1;
            for (const bound of buckets) {
              if (value <= bound) {
                series.bucketValues[bound]! += 1;
                break;
              }
            }
            return;
          }
          if (!series && !admit(labels)) return;
          try {
            // The first sight of a label set goes through prom-client, which validates it.
            if (labels) metric.observe(labels, value);
            else metric.observe(value);
          } catch (error) {
            this.#report(name, "Cannot record metric", error);
            return;
          }
          if (!series && labels && Object.isFrozen(labels)) {
            const found = seriesOf(metric, labels);
            if (found) cells.set(labels, found);
          }
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

/** What prom-client 15 keeps for one histogram series (pinned in deno.json). */
interface HistogramSeries {
  labels: Labels;
  sum: number;
  count: number;
  /** Per-bucket (not cumulative) counts, keyed by upper bound; +Inf is `count`. */
  bucketValues: Record<number, number>;
}

/**
 * prom-client's record of the series it created for `labels`. It keeps the very label object
 * it was first given, so a frozen label set is looked up once and then counted into directly,
 * where `observe` would join the labels into a key and look that up on every call. This reads
 * prom-client's internals; the histogram tests read the figures back through a real parser.
 */
function seriesOf(metric: Histogram, labels: Labels): HistogramSeries | undefined {
  const map = (metric as unknown as { hashMap?: Record<string, HistogramSeries> }).hashMap;
  if (!map) return undefined;
  for (const key in map) {
    const series = map[key]!;
    if (series.labels === labels && typeof series.count === "number") return series;
  }
  return undefined;
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
