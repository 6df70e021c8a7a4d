/** What an echo backend does: enough to show connect, probe, outage and close. */
import type { HealthReport } from "../../core/plugin.ts";

/** An echo backend. */
export interface EchoDriver extends AsyncDisposable {
  /** Connects; idempotent. */
  connect(): Promise<void>;
  /** Cheap health probe. */
  ping(): HealthReport;
  /** Makes the backend unreachable for `ms`, to show degraded mode and recovery. */
  simulateOutage(ms: number): void;
  /** Counts a request and returns the total so far. */
  count(): number;
  /** Disconnects; safe to call twice. */
  close(): Promise<void>;
}
