/** Specification of `core/lifecycle.ts`: order, retries, timeouts, degradation and stop. */
import assert from "node:assert/strict";
import { StartupError } from "../../core/lifecycle.ts";
import { TimeoutError } from "../../core/timing.ts";
import {
  capturingLog,
  configYaml,
  loadConfig,
  openLifecycle,
  SANITIZED,
  stateOf,
  waitFor,
} from "../_helpers.ts";
import { createHarness } from "./_harness.ts";

/** db <- cache <- api: each requires the one before it. */
function chain() {
  return createHarness({ db: [], cache: ["db"], api: ["cache"], web: ["api"] });
}

Deno.test(
  "plugins start in dependency order, whatever the order of the file",
  SANITIZED,
  async () => {
    const h = chain();
    // Listed backwards on purpose.
    const config = loadConfig(configYaml({ api: {}, cache: {}, db: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.deepEqual(h.calls.filter((c) => c.startsWith("start:")), [
      "start:db",
      "start:cache",
      "start:api",
    ]);
  },
);

Deno.test("plugins stop in the reverse of their start order", SANITIZED, async () => {
  const h = chain();
  const config = loadConfig(configYaml({ api: {}, cache: {}, db: {} }), h.registry);
  const running = openLifecycle(config, h.registry);
  await running.lifecycle.start();

  const errors = await running.lifecycle.stop();

  assert.deepEqual(errors, []);
  assert.deepEqual(h.calls.filter((c) => c.startsWith("stop:")), [
    "stop:api",
    "stop:cache",
    "stop:db",
  ]);
  assert.deepEqual(running.lifecycle.plugins.map((p) => p.state), [
    "stopped",
    "stopped",
    "stopped",
  ]);
});

Deno.test(
  "every started plugin turns ready, seen by onStateChange as starting then ready",
  SANITIZED,
  async () => {
    const h = chain();
    const config = loadConfig(configYaml({ db: {}, cache: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.equal(stateOf(running, "db"), "ready");
    assert.equal(stateOf(running, "cache"), "ready");
    assert.deepEqual(running.transitions, [
      "db:stopped->starting",
      "db:starting->ready",
      "cache:stopped->starting",
      "cache:starting->ready",
    ]);
  },
);

Deno.test("ctx.use(type) returns the exports of the required plugin", SANITIZED, async () => {
  const h = chain();
  const config = loadConfig(configYaml({ db: {}, cache: {} }), h.registry);
  await using running = openLifecycle(config, h.registry);
  await running.lifecycle.start();

  const used = h.contexts.get("cache")!.use<{ name: string }>("db");

  assert.equal(used, h.exports.get("db"));
});

Deno.test(
  "ctx.use(type) throws for a type the plugin does not list in requires",
  SANITIZED,
  async () => {
    const h = chain();
    const config = loadConfig(configYaml({ db: {}, cache: {}, api: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);
    await running.lifecycle.start();

    // api requires cache, not db (even though db is enabled and ready).
    assert.throws(() => h.contexts.get("api")!.use("db"));
    assert.throws(() => h.contexts.get("db")!.use("cache"));
  },
);

Deno.test(
  "a start hook that overruns its timeout is reported by the plugin's name",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("slow-db").startHangs = true;
    const config = loadConfig(
      configYaml({ "slow-db": { type: "db", timeouts: { start: "50ms" } } }),
      h.registry,
    );
    await using running = openLifecycle(config, h.registry);

    const error = await running.lifecycle.start().then(() => undefined, (e: unknown) => e);

    assert.ok(error instanceof StartupError, `expected a StartupError, got ${error}`);
    assert.match(error.message, /slow-db/);
    assert.ok(error.cause instanceof TimeoutError, "the cause is the start timeout");
    assert.match(error.cause.what, /slow-db/);
  },
);

Deno.test(
  "a required plugin that fails every start attempt rejects start with StartupError",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("cache").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: { startAttempts: 2 } }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);
  },
);

Deno.test(
  "a required plugin that cannot start stops the ones already started, in reverse",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("api").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: {}, api: {}, web: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);

    const stops = h.calls.filter((c) => c === "stop:cache" || c === "stop:db");
    assert.deepEqual(stops, ["stop:cache", "stop:db"]);
    assert.equal(stateOf(running, "db"), "stopped");
    assert.equal(stateOf(running, "cache"), "stopped");
  },
);

Deno.test(
  "plugins after the one that cannot start are neither started nor stopped",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("api").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: {}, api: {}, web: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);

    assert.equal(h.count("start:web"), 0);
    assert.equal(h.count("stop:web"), 0);
    assert.equal(stateOf(running, "web"), "stopped");
  },
);

Deno.test({
  name: "a required plugin that cannot start is left in state failed",
  // Core bug (see report): start() sets "failed", then its own stop() moves the failed plugin
  // on to "stopping" and "stopped", so nothing can tell it apart from the others afterwards.

  ...SANITIZED,
  fn: async () => {
    const h = chain();
    h.behaviour("cache").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);

    assert.equal(stateOf(running, "cache"), "failed");
  },
});

Deno.test(
  "a required plugin that cannot start passes through state failed",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("cache").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);

    assert.ok(
      running.transitions.includes("cache:starting->failed"),
      running.transitions.join(", "),
    );
  },
);

Deno.test(
  "start is attempted exactly startAttempts times before giving up",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: { startAttempts: 3 } }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await assert.rejects(running.lifecycle.start(), StartupError);

    assert.equal(h.count("start:db"), 3);
  },
);

Deno.test(
  "a start that fails once succeeds on the second attempt and the plugin is ready",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startFailures = 1;
    const config = loadConfig(configYaml({ db: { startAttempts: 3 } }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.equal(h.count("start:db"), 2);
    assert.equal(stateOf(running, "db"), "ready");
  },
);

Deno.test("failStart in a plugin's own config makes every attempt fail", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(configYaml({ db: { failStart: true, startAttempts: 2 } }), h.registry);
  await using running = openLifecycle(config, h.registry);

  await assert.rejects(running.lifecycle.start(), StartupError);

  assert.equal(h.count("start:db"), 2);
  assert.equal(h.count("started:db"), 0);
});

Deno.test(
  "an optional plugin that cannot start turns degraded and does not fail the boot",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("cache").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: {}, cache: { required: false } }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.equal(stateOf(running, "db"), "ready");
    assert.equal(stateOf(running, "cache"), "degraded");
    assert.notEqual(running.lifecycle.get("cache")!.detail, undefined);
  },
);

Deno.test(
  "an optional plugin that could not start turns ready by itself once start succeeds",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startFailures = Infinity;
    const config = loadConfig(configYaml({ db: { required: false } }), h.registry);
    await using running = openLifecycle(config, h.registry);
    await running.lifecycle.start();
    await waitFor(() => h.count("start:db") >= 2, "a background start attempt");

    h.behaviour("db").startFailures = 0;

    await waitFor(() => stateOf(running, "db") === "ready", "db to turn ready");
    assert.equal(running.lifecycle.get("db")!.detail, undefined);
    assert.equal(running.lifecycle.get("db")!.nextAttemptAt, undefined);
  },
);

Deno.test("a plugin whose probe starts reporting down turns degraded", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(configYaml({ db: {} }), h.registry);
  await using running = openLifecycle(config, h.registry);
  await running.lifecycle.start();

  h.behaviour("db").readyStatus = "down";

  await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");
  assert.match(running.lifecycle.get("db")!.detail ?? "", /down/);
});

Deno.test("a degraded plugin turns ready again when its backend recovers", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(configYaml({ db: {} }), h.registry);
  await using running = openLifecycle(config, h.registry);
  await running.lifecycle.start();
  h.behaviour("db").readyStatus = "down";
  await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");

  h.behaviour("db").readyStatus = "ready";

  await waitFor(() => stateOf(running, "db") === "ready", "db to recover");
  const after = running.transitions.slice(running.transitions.indexOf("db:starting->ready") + 1);
  assert.deepEqual(after, ["db:ready->degraded", "db:degraded->ready"]);
});

Deno.test(
  "a degraded plugin is reconnected by running its start hook again",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    const config = loadConfig(configYaml({ db: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);
    await running.lifecycle.start();
    assert.equal(h.count("start:db"), 1);

    h.behaviour("db").readyStatus = "down";

    await waitFor(() => h.count("start:db") >= 2, "a reconnect attempt");
  },
);

Deno.test("a degraded plugin says when its next reconnect attempt runs", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(
    configYaml({ db: { reconnect: { initialDelay: "10s", maxDelay: "10s" } } }),
    h.registry,
  );
  await using running = openLifecycle(config, h.registry);
  await running.lifecycle.start();

  h.behaviour("db").readyStatus = "down";

  await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");
  await waitFor(
    () => running.lifecycle.get("db")!.nextAttemptAt !== undefined,
    "a scheduled attempt",
  );
  assert.ok(running.lifecycle.get("db")!.nextAttemptAt! > Date.now());
});

Deno.test(
  "a probe that reports degraded (not down) also turns the plugin degraded",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    const config = loadConfig(configYaml({ db: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);
    await running.lifecycle.start();

    h.behaviour("db").readyStatus = "degraded";

    await waitFor(() => stateOf(running, "db") === "degraded", "db to turn degraded");
  },
);

Deno.test(
  "a plugin whose first probe says down starts degraded instead of failing",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").readyStatus = "down";
    const config = loadConfig(configYaml({ db: {} }), h.registry);
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.equal(stateOf(running, "db"), "degraded");
  },
);

Deno.test(
  "stop returns the error of every failing stop hook instead of stopping at the first",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("db").stopFails = true;
    h.behaviour("api").stopFails = true;
    const config = loadConfig(configYaml({ db: {}, cache: {}, api: {} }), h.registry);
    const running = openLifecycle(config, h.registry);
    await running.lifecycle.start();

    const errors = await running.lifecycle.stop();

    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof Error));
    assert.deepEqual(h.calls.filter((c) => c.startsWith("stop:")), [
      "stop:api",
      "stop:cache",
      "stop:db",
    ]);
    assert.deepEqual(running.lifecycle.plugins.map((p) => p.state), [
      "stopped",
      "stopped",
      "stopped",
    ]);
  },
);

Deno.test("a failing stop hook is logged with the plugin's name", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  h.behaviour("db").stopFails = true;
  const { log, lines } = capturingLog();
  const config = loadConfig(configYaml({ db: {} }), h.registry);
  const running = openLifecycle(config, h.registry, { log });
  await running.lifecycle.start();

  await running.lifecycle.stop();

  assert.ok(lines.some((l) => l.level === "error" && l.plugin === "db"), "an error line names db");
});

Deno.test(
  "calling stop twice runs each stop hook once and returns the same result",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").stopFails = true;
    const config = loadConfig(configYaml({ db: {} }), h.registry);
    const running = openLifecycle(config, h.registry);
    await running.lifecycle.start();

    const [first, second] = await Promise.all([running.lifecycle.stop(), running.lifecycle.stop()]);
    const third = await running.lifecycle.stop();

    assert.equal(h.count("stop:db"), 1);
    assert.equal(first.length, 1);
    assert.equal(second, first);
    assert.equal(third, first);
  },
);

Deno.test(
  "a stop hook that overruns its timeout is reported by name and the others still stop",
  SANITIZED,
  async () => {
    const h = chain();
    h.behaviour("cache").stopHangs = true;
    const config = loadConfig(
      configYaml({ db: {}, cache: { timeouts: { stop: "50ms" } }, api: {} }),
      h.registry,
    );
    const running = openLifecycle(config, h.registry);
    await running.lifecycle.start();

    const errors = await running.lifecycle.stop();

    assert.equal(errors.length, 1);
    const [error] = errors;
    assert.ok(error instanceof TimeoutError, `expected a TimeoutError, got ${error}`);
    assert.match(error.what, /"cache"/);
    assert.deepEqual(h.calls.filter((c) => c.startsWith("stop:")), [
      "stop:api",
      "stop:cache",
      "stop:db",
    ]);
    assert.equal(stateOf(running, "db"), "stopped");
  },
);

Deno.test("ctx.signal is aborted when the lifecycle stops", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(configYaml({ db: {} }), h.registry);
  const running = openLifecycle(config, h.registry);
  await running.lifecycle.start();
  const signal = h.contexts.get("db")!.signal;
  assert.equal(signal.aborted, false);

  await running.lifecycle.stop();

  assert.equal(signal.aborted, true);
});

Deno.test("a plugin that was never started is not stopped", SANITIZED, async () => {
  const h = createHarness({ db: [] });
  const config = loadConfig(configYaml({ db: {} }), h.registry);
  const running = openLifecycle(config, h.registry);

  const errors = await running.lifecycle.stop();

  assert.deepEqual(errors, []);
  assert.equal(h.count("stop:db"), 0);
});

Deno.test("a disabled plugin is neither created nor started", SANITIZED, async () => {
  const h = createHarness({ db: [], cache: [] });
  const config = loadConfig(configYaml({ db: {}, cache: { enabled: false } }), h.registry);
  await using running = openLifecycle(config, h.registry);

  await running.lifecycle.start();

  assert.equal(h.count("create:cache"), 0);
  assert.equal(running.lifecycle.get("cache"), undefined);
});

Deno.test(
  "two instances of one type run side by side under their own names",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    const config = loadConfig(
      configYaml({ main: { type: "db" }, replica: { type: "db" } }),
      h.registry,
    );
    await using running = openLifecycle(config, h.registry);

    await running.lifecycle.start();

    assert.equal(stateOf(running, "main"), "ready");
    assert.equal(stateOf(running, "replica"), "ready");
    assert.equal(running.lifecycle.get("replica")!.type, "db");
    assert.equal(running.lifecycle.get("replica")!.backend, "memory");
  },
);

Deno.test({
  name: "stop waits for a start hook in flight before stopping that plugin",
  // Core bug (see report): stop() runs the stop hook while the start hook is still running,
  // and start() then marks the plugin ready after it was stopped.

  ...SANITIZED,
  fn: async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startDelayMs = 50;
    const config = loadConfig(configYaml({ db: {} }), h.registry);
    const running = openLifecycle(config, h.registry);
    const starting = running.lifecycle.start();
    await waitFor(() => h.count("start:db") === 1, "db's start hook to run");

    await running.lifecycle.stop();
    await starting;

    assert.deepEqual(h.calls, ["create:db", "start:db", "started:db", "stop:db"]);
    assert.equal(stateOf(running, "db"), "stopped");
  },
});

Deno.test("stopping during start starts no further plugin", SANITIZED, async () => {
  const h = chain();
  h.behaviour("db").startHangs = true;
  const config = loadConfig(configYaml({ db: {}, cache: {} }), h.registry);
  const running = openLifecycle(config, h.registry);
  const starting = running.lifecycle.start().catch((e: unknown) => e);
  await waitFor(() => h.count("start:db") === 1, "db's start hook to run");

  await running.lifecycle.stop();
  await starting;

  assert.equal(h.count("start:cache"), 0);
});

Deno.test({
  name: "stopping while a start attempt waits to be retried resolves start without an error",
  // Core bug (see report): the aborted backoff returns Error("stopped while starting"), which
  // start() treats as the plugin failing: it rejects with StartupError and marks it "failed".

  ...SANITIZED,
  fn: async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startFailures = Infinity;
    const config = loadConfig(
      configYaml({ db: { startAttempts: 3, reconnect: { initialDelay: "5s", maxDelay: "5s" } } }),
      h.registry,
    );
    const running = openLifecycle(config, h.registry);
    const starting = running.lifecycle.start();
    await waitFor(() => h.count("start:db") === 1, "the first start attempt");

    await running.lifecycle.stop();

    await starting;
    assert.equal(running.transitions.some((t) => t.endsWith("->failed")), false);
  },
});

Deno.test(
  "a retried start waits for the attempt that overran its timeout instead of running beside it",
  SANITIZED,
  async () => {
    const h = createHarness({ db: [] });
    h.behaviour("db").startDelayMs = 80; // ignores its signal, like a client mid-connect
    const config = loadConfig(
      configYaml({
        db: {
          startAttempts: 2,
          timeouts: { start: "20ms" },
          reconnect: { initialDelay: "1ms", maxDelay: "1ms" },
        },
      }),
      h.registry,
    );
    await using running = openLifecycle(config, h.registry);
    const starting = running.lifecycle.start();
    await waitFor(() => h.count("start:db") === 1, "the first start attempt");
    h.behaviour("db").startDelayMs = 0; // the second attempt is quick

    await starting;

    assert.deepEqual(h.calls.filter((c) => c.endsWith(":db") && c.startsWith("start")), [
      "start:db",
      "started:db",
      "start:db",
      "started:db",
    ]);
    assert.equal(stateOf(running, "db"), "ready");
  },
);

Deno.test("a start hook's signal aborts when the attempt overruns its timeout", async () => {
  const { timedHook, TimeoutError } = await import("../../core/timing.ts");
  let seen: AbortSignal | undefined;
  const { result, settled } = timedHook(
    (signal) => {
      seen = signal;
      return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    },
    10,
    'Start hook of plugin "db"',
  );
  await assert.rejects(result, TimeoutError);
  await settled;
  assert.equal(seen?.aborted, true);
});
