/**
 * Process metrics under Deno. prom-client's default collectors were checked one by one under
 * Deno 2: CPU, start time, file descriptors and V8 heap report real values and are kept; its
 * event loop lag reads zeros (Deno's `monitorEventLoopDelay` is a stub), GC durations never
 * arrive, and active handles/requests are always empty, so those are left out. Event loop lag is
 * measured here with a small interval timer instead.
 *
 * Deno lets a program read `/proc/self` only with `--allow-all`, which neither `deno task start`
 * nor the compiled binary grants. Resident memory therefore comes from `Deno.memoryUsage()`, and
 * what only `/proc` knows (virtual memory, descriptors, open sockets) is registered only where it
 * can be read: an absent series says "unknown", where a 0 would lie.
 *
 * CPU time is counted here too, by the same names: prom-client's collector loads the whole
 * OpenTelemetry API (for exemplars edgebox does not enable), a dozen milliseconds of start-up,
 * and counts only from the moment it is registered.
 */
import process from "node:process";
import { Counter, Gauge, Histogram, type Registry } from "./prom_client.ts";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import { VERSION } from "../../core/version.ts";

/** Buckets of the event loop lag histogram, in seconds. */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** The lag gauge reports the worst sample of this window. */
const LAG_WINDOW_MS = 5_000;
/** Counting sockets stops here: the gauge is a signal, not an inventory. */
const MAX_FDS_SCANNED = 100_000;

type Collector = (registry: Registry, config?: Record<string, unknown>) => void;

/** The prom-client collectors that report real values under Deno with any permissions. */
const WORKING_COLLECTORS = [
  processCpuTotal,
  processStartTime,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
] as Collector[];

/** The ones that read `/proc/self/fd` and `/proc/self/limits`. */
const PROC_FD_COLLECTORS = [processOpenFileDescriptors, processMaxFileDescriptors] as Collector[];

/** Process metrics whose sampler runs between `start` and `stop`. */
export interface ProcessMetrics {
  /** Starts the event loop lag sampler; idempotent. */
  start(): void;
  /** Clears the sampler's timer; safe to call twice. */
  stop(): void;
}

/** Registers the process metrics on `registry`; sampling begins at `start()`. */
export function registerProcessMetrics(
  registry: Registry,
  options: { lagInterval: number },
): ProcessMetrics {
  for (const collect of WORKING_COLLECTORS) collect(registry, {});
  const procReadable = canRead("/proc/self/fd") && canRead("/proc/self/limits");
  if (procReadable) { for (const collect of PROC_FD_COLLECTORS) collect(registry, {}); }

  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });

  new Gauge({
    name: "edgebox_build_info",
    help: "Always 1; the labels say which edgebox and Deno are running",
    labelNames: ["version", "deno", "v8"],
    registers: [registry],
  }).set({ version: VERSION, deno: Deno.version.deno, v8: Deno.version.v8 }, 1);

  if (procReadable) {
    new Gauge({
      name: "edgebox_open_sockets",
      help: "Open sockets of the process: client connections, listeners and backend connections",
      registers: [registry],
      collect() {
        this.set(countSockets());
      },
    });
  }

  const lag = new EventLoopLag(registry, options.lagInterval);
  return { start: () => lag.start(), stop: () => lag.stop() };
}

/**
 * `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total` and their sum
 * `process_cpu_seconds_total`, since the process started.
 */
function processCpuTotal(registry: Registry): void {
  let counted = { user: 0, system: 0 };
  const counter = (name: string, help: string, collect?: () => void) =>
    new Counter({ name, help, registers: [registry], ...(collect ? { collect } : {}) });
  // Registered first, so collected first: its collect brings all three up to date.
  const user = counter(
    "process_cpu_user_seconds_total",
    "Total user CPU time spent in seconds.",
    () => {
      const now = process.cpuUsage();
      const userSeconds = (now.user - counted.user) / 1e6;
      const systemSeconds = (now.system - counted.system) / 1e6;
      counted = now;
      user.inc(userSeconds);
      system.inc(systemSeconds);
      total.inc(userSeconds + systemSeconds);
    },
  );
  const system = counter(
    "process_cpu_system_seconds_total",
    "Total system CPU time spent in seconds.",
  );
  const total = counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
  );
}

/** Whether this process may read `path` (Linux, and permission to read `/proc`). */
function canRead(path: string): boolean {
  try {
    if (Deno.statSync(path).isDirectory) Deno.readDirSync(path)[Symbol.iterator]().next();
    else Deno.readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Sockets among the process's open file descriptors. */
function countSockets(): number {
  let sockets = 0;
  let scanned = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    if (++scanned > MAX_FDS_SCANNED) break;
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${entry.name}`).startsWith("socket:")) sockets++;
    } catch {
      // The descriptor closed while we were counting; it is no longer open.
    }
  }
  return sockets;
}

/**
 * Samples how late a repeating timer fires: the time the event loop was too busy to run it.
 * The histogram keeps every sample; the gauge shows the worst one of the last few seconds.
 */
class EventLoopLag {
  readonly #interval: number;
  readonly #histogram: Histogram;
  /** Worst lag of each interval in the window (a ring), in seconds. */
  readonly #window: Float64Array;
  #slot = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #expected = 0;

  constructor(registry: Registry, interval: number) {
    this.#interval = interval;
    this.#window = new Float64Array(Math.max(1, Math.ceil(LAG_WINDOW_MS / interval)));
    this.#histogram = new Histogram({
      name: "edgebox_event_loop_lag_seconds",
      help: "How late a timer set for every metrics.eventLoopInterval fired",
      buckets: LAG_BUCKETS,
      registers: [registry],
    });
    const window = this.#window;
    new Gauge({
      name: "edgebox_event_loop_lag_max_seconds",
      help: `Worst event loop lag of the last ${LAG_WINDOW_MS / 1000} seconds`,
      registers: [registry],
      collect() {
        this.set(window.reduce((max, value) => Math.max(max, value), 0));
      },
    });
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#expected = performance.now() + this.#interval;
    const timer = setInterval(() => this.#sample(), this.#interval);
    // A sampler must never be what keeps the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sample(): void {
    const now = performance.now();
    const lag = Math.max(0, now - this.#expected) / 1000;
    this.#expected = now + this.#interval;
    this.#histogram.observe(lag);
    this.#window[this.#slot] = lag;
    this.#slot = (this.#slot + 1) % this.#window.length;
  }
}
