/**
 * Test doubles for the core's unit tests: a registry of recording plugins whose hooks can be
 * told to fail, hang or report down. The helpers shared with other suites are in
 * `tests/_helpers.ts`.
 */
import { z } from "zod";
import {
  definePlugin,
  type HealthReport,
  type PluginContext,
  type PluginDefinition,
  type PluginRegistry,
} from "../../core/plugin.ts";
import { createRouter } from "../../core/routes.ts";
import { sleep } from "../../core/timing.ts";

/** The config schema of every recording plugin type. */
export const RecordingConfig = z.discriminatedUnion("backend", [
  z.strictObject({
    backend: z.literal("memory"),
    /** Every start attempt throws. */
    failStart: z.boolean().default(false),
    /** A secret-looking field, for redaction tests. */
    password: z.string().optional(),
  }),
]);

/** Validated recording plugin config. */
export type RecordingConfig = z.output<typeof RecordingConfig>;

/** How one instance's hooks behave; tests change it while the instance runs. */
export interface Behaviour {
  /** The next this-many start attempts throw (`Infinity`: every one). */
  startFailures: number;
  /** Start waits until the instance's signal aborts, so it overruns any start timeout. */
  startHangs: boolean;
  /** Start takes this long and ignores the abort signal, like a client mid-connect. */
  startDelayMs: number;
  /** What `ready` reports. */
  readyStatus: HealthReport["status"];
  /** Ready throws instead of reporting. */
  readyThrows: boolean;
  /** Ready never settles. */
  readyHangs: boolean;
  /** Stop throws. */
  stopFails: boolean;
  /** Stop never settles. */
  stopHangs: boolean;
}

/** What the recording plugins offer through `ctx.use(type)`. */
export interface RecordingExports {
  name: string;
}

/** A registry of recording plugins and what their hooks saw. */
export interface Harness {
  registry: PluginRegistry;
  /** `create:<name>`, `start:<name>`, `started:<name>`, `stop:<name>`, in call order. */
  calls: string[];
  /** Every instance's context, by instance name. */
  contexts: Map<string, PluginContext<RecordingConfig>>;
  /** Every instance's exports, by instance name. */
  exports: Map<string, RecordingExports>;
  /** The (mutable) behaviour of an instance; defaults to a healthy one. */
  behaviour(name: string): Behaviour;
  /** How many calls of this exact kind were made (`start:db`). */
  count(call: string): number;
}

/**
 * Creates recording plugin types: `types` maps each type to the types it requires. Each
 * instance mounts `GET /` (its name) and `GET /boom` (throws a plain Error).
 */
export function createHarness(
  types: Record<string, readonly string[]> = { test: [] },
  extra: readonly PluginDefinition[] = [],
): Harness {
  const calls: string[] = [];
  const contexts = new Map<string, PluginContext<RecordingConfig>>();
  const exports = new Map<string, RecordingExports>();
  const behaviours = new Map<string, Behaviour>();
  const behaviour = (name: string): Behaviour => {
    let found = behaviours.get(name);
    if (!found) {
      found = {
        startFailures: 0,
        startHangs: false,
        startDelayMs: 0,
        readyStatus: "ready",
        readyThrows: false,
        readyHangs: false,
        stopFails: false,
        stopHangs: false,
      };
      behaviours.set(name, found);
    }
    return found;
  };

  const definitions: PluginDefinition[] = Object.entries(types).map(([type, requires]) =>
    definePlugin({
      type,
      description: `Recording test plugin "${type}"`,
      config: RecordingConfig,
      backends: ["memory"],
      requires,
      create(ctx) {
        const { name } = ctx;
        calls.push(`create:${name}`);
        contexts.set(name, ctx);
        const own: RecordingExports = { name };
        exports.set(name, own);
        const routes = createRouter();
        routes.get("/", (c) => c.json({ name }));
        routes.get("/boom", () => {
          throw new Error(`Route of ${name} exploded`);
        });
        return {
          routes,
          start: async () => {
            calls.push(`start:${name}`);
            const b = behaviour(name);
            if (b.startHangs) await sleep(60_000, ctx.signal);
            if (b.startDelayMs > 0) await sleep(b.startDelayMs);
            if (ctx.config.failStart) throw new Error(`Cannot start ${name}: failStart is set`);
            if (b.startFailures > 0) {
              b.startFailures--;
              throw new Error(`Cannot start ${name}: told to fail`);
            }
            calls.push(`started:${name}`);
          },
          ready: async (): Promise<HealthReport> => {
            const b = behaviour(name);
            if (b.readyHangs) await new Promise<never>(() => {});
            if (b.readyThrows) throw new Error(`Cannot probe ${name}: told to throw`);
            const status = b.readyStatus;
            return status === "ready"
              ? { status }
              : { status, detail: `${name} probe says ${status}` };
          },
          stop: async () => {
            calls.push(`stop:${name}`);
            const b = behaviour(name);
            if (b.stopHangs) await new Promise<never>(() => {});
            if (b.stopFails) throw new Error(`Cannot stop ${name}: told to fail`);
          },
          exports: own,
        };
      },
    })
  );

  return {
    registry: new Map([...definitions, ...extra].map((d) => [d.type, d])),
    calls,
    contexts,
    exports,
    behaviour,
    count: (call) => calls.filter((c) => c === call).length,
  };
}
