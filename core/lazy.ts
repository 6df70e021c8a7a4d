/**
 * Drivers whose module loads when they connect: a backend's `create` must return its driver at
 * once, without I/O, but a real-service driver's module pulls in a client library (the AWS SDK,
 * neo4j-driver, ioredis, nats) that costs tens of milliseconds and megabytes to evaluate. A lazy
 * driver stands in for it: the facts read before `connect` (its backend name, its features) are
 * given up front, and `connect` imports the module, builds the real driver and delegates to it
 * from then on. Write `load` with a literal `import("./redis.ts")`: a literal specifier stays in
 * the `deno compile` graph, a computed one does not.
 */
import type { Driver, HealthReport } from "./plugin.ts";

/** How {@linkcode lazyDriver} builds its driver. */
export interface LazyDriverOptions<D extends Driver> {
  /** Imports the driver's module and builds the driver; called once, at the first `connect`. */
  load: () => Promise<D>;
  /** What is read from the driver before it connects: its backend name, its features. */
  known: Partial<D>;
}

/** What `ping` answers before the driver's module has loaded. */
const NOT_CONNECTED: HealthReport = Object.freeze({ status: "down", detail: "not connected yet" });

/** Members that are never methods to delegate (a promise check, JSON, the prototype chain). */
const NOT_DELEGATED = new Set<PropertyKey>(["then", "toJSON", "constructor"]);

/**
 * A driver that loads its module at the first `connect` (see the module doc). Until then
 * `ping` reports it down, `close` does nothing, `known` answers reads, and any other method
 * waits for the module; afterwards every member is the real driver's.
 */
export function lazyDriver<D extends Driver>(options: LazyDriverOptions<D>): D {
  let real: D | undefined;
  let loading: Promise<D> | undefined;
  const load = (): Promise<D> =>
    loading ??= options.load().then((driver) => real = driver, (error) => {
      loading = undefined; // the next connect tries again
      throw error;
    });
  const members = new Map<PropertyKey, unknown>();
  const before: Record<PropertyKey, unknown> = {
    connect: (signal?: AbortSignal) => load().then((driver) => driver.connect(signal)),
    ping: () => real ? real.ping() : NOT_CONNECTED,
    // Only reached before the module loaded: close what a connect in progress builds.
    close: () => loading?.then((driver) => driver.close(), () => {}),
  };
  return new Proxy(options.known as D, {
    get(known, property) {
      if (real) {
        let member = members.get(property);
        if (member === undefined) {
          member = Reflect.get(real, property);
          if (typeof member === "function") member = member.bind(real);
          members.set(property, member);
        }
        return member;
      }
      if (property in known) return Reflect.get(known, property);
      if (property in before) return before[property];
      if (property === Symbol.asyncDispose) return before.close;
      if (typeof property !== "string" || NOT_DELEGATED.has(property)) return undefined;
      // A method called before connect (or captured before, and called after): delegate.
      return (...args: unknown[]) => {
        const call = (driver: D) =>
          (Reflect.get(driver, property) as (...a: unknown[]) => unknown).apply(driver, args);
        return real ? call(real) : load().then(call);
      };
    },
    has(known, property) {
      return real ? property in real : property in known || property in before;
    },
  });
}
