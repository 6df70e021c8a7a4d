/** The in-process echo backend. */
import { sleep } from "../../core/timing.ts";
import type { HealthReport } from "../../core/plugin.ts";
import type { EchoDriver } from "./driver.ts";

/** Options of {@linkcode MemoryEcho}. */
export interface MemoryEchoOptions {
  connectDelay: number;
  signal?: AbortSignal;
}

/** Holds a request counter; its "connection" can be taken down for a while. */
export class MemoryEcho implements EchoDriver {
  #connected = false;
  #outageUntil = 0;
  #requests = 0;
  readonly #options: MemoryEchoOptions;

  constructor(options: MemoryEchoOptions) {
    this.#options = options;
  }

  async connect(): Promise<void> {
    if (Date.now() < this.#outageUntil) {
      throw new Error("Cannot connect echo backend: simulated outage");
    }
    if (this.#connected) return;
    await sleep(this.#options.connectDelay, this.#options.signal);
    this.#connected = true;
  }

  ping(): HealthReport {
    if (!this.#connected) return { status: "down", detail: "not connected" };
    if (Date.now() < this.#outageUntil) {
      this.#connected = false;
      return { status: "down", detail: "simulated outage" };
    }
    return { status: "ready" };
  }

  simulateOutage(ms: number): void {
    this.#outageUntil = Date.now() + ms;
  }

  count(): number {
    return ++this.#requests;
  }

  close(): Promise<void> {
    this.#connected = false;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

MemoryEcho satisfies new (options: MemoryEchoOptions) => EchoDriver;
