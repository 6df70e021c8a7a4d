/**
 * Hot reload, in process: the plan a new config makes against the running one, and the reloader
 * applying it to recording plugins (which count every create, start and stop) behind the app.
 */
import assert from "node:assert/strict";
import { createApp, type EdgeboxApp } from "../../core/app.ts";
import { Lifecycle } from "../../core/lifecycle.ts";
import { definePlugin, type PluginRegistry } from "../../core/plugin.ts";
import { Reloader, type ReloadResult } from "../../core/reload.ts";
import { planReload } from "../../core/reload_plan.ts";
import { createRouter } from "../../core/routes.ts";
import { RecordingConfig } from "./_harness.ts";
import { createHarness } from "./_harness.ts";
import {
  configYaml,
  loadConfig,
  problemOf,
  SANITIZED,
  silentLog,
  tempDir,
  waitFor,
} from "../_helpers.ts";

/** A lifecycle and a reloader over a config text the test rewrites. */
interface Reloadable extends AsyncDisposable {
  reloader: Reloader<EdgeboxApp>;
  lifecycle: Lifecycle;
  /** The text the next reload reads. */
  text: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  reload(): Promise<ReloadResult>;
}

async function openReloadable(yaml: string, registry: PluginRegistry): Promise<Reloadable> {
  const log = silentLog();
  const config = loadConfig(yaml, registry);
  const lifecycle = new Lifecycle(config, { registry, log });
  const state = {
    text: yaml,
  };
  const reloader: Reloader<EdgeboxApp> = new Reloader({
    config,
    lifecycle,
    registry,
    log,
    source: { name: "test.yaml", embedded: false, read: () => Promise.resolve(state.text) },
    buildApp: (served, generation) =>
      createApp({
        config: served,
        lifecycle,
        log,
        generation,
        reload: () => reloader.reload("http"),
      }),
  });
  await lifecycle.start();
  reloader.markStarted();
  return {
    reloader,
    lifecycle,
    get text() {
      return state.text;
    },
    set text(value: string) {
      state.text = value;
    },
    request: (path, init) => reloader.app.request(path, init),
    reload: () => reloader.reload("http"),
    async [Symbol.asyncDispose]() {
      await reloader.close();
      await lifecycle.stop();
    },
  };
}

Deno.test("a plan sorts every instance into unchanged, added, removed or changed", () => {
  const h = createHarness({ test: [] });
  const before = loadConfig(configYaml({ a: { type: "test" }, b: { type: "test" } }), h.registry);
  const after = loadConfig(
    configYaml(
      { a: { type: "test" }, b: { type: "test", password: "x".repeat(16) }, c: { type: "test" } },
      { log: { level: "debug" }, server: { port: 9999, bodyLimit: "2MiB" } },
    ),
    h.registry,
  );
  const plan = planReload(after, {
    config: before,
    instances: before.plugins.map((settings) => ({
      name: settings.name,
      settings,
      telemetry: false,
    })),
    registry: h.registry,
  });

  assert.deepEqual(
    plan.steps.map((s) => `${s.name}:${s.change}`),
    ["a:unchanged", "b:changed", "c:added"],
  );
  assert.deepEqual(plan.core, ["log.level", "server.bodyLimit"]);
  assert.deepEqual(plan.ignored, ["server.port"]);
  assert.deepEqual(plan.refusals, []);
});

Deno.test("a plan refuses to change an instance that a staying instance requires", () => {
  const h = createHarness({ db: [], api: ["db"] });
  const before = loadConfig(configYaml({ db: {}, api: {} }), h.registry);
  const after = loadConfig(configYaml({ db: { timeouts: { stop: "1s" } }, api: {} }), h.registry);
  const plan = planReload(after, {
    config: before,
    instances: before.plugins.map((settings) => ({
      name: settings.name,
      settings,
      telemetry: false,
    })),
    registry: h.registry,
  });

  assert.equal(plan.refusals.length, 1);
  assert.equal(plan.refusals[0]!.instance, "db");
  assert.match(plan.refusals[0]!.message, /"api" requires plugin "db", which this reload changes/);
});

Deno.test("a reload that changes nothing leaves every instance alone", SANITIZED, async () => {
  const h = createHarness({ test: [] });
  const yaml = configYaml({ a: { type: "test" }, b: { type: "test" } });
  await using edgebox = await openReloadable(yaml, h.registry);
  const calls = h.calls.length;

  const result = await edgebox.reload();

  assert.ok(result.ok);
  assert.equal(result.generation, 1);
  assert.deepEqual(result.instances, { a: "unchanged", b: "unchanged" });
  assert.equal(h.calls.length, calls, "no create, start or stop");
});

Deno.test(
  "unchanged instances are untouched while others are added, changed and removed",
  SANITIZED,
  async () => {
    const h = createHarness({ test: [] });
    await using edgebox = await openReloadable(
      configYaml({ keep: { type: "test" }, edit: { type: "test" }, drop: { type: "test" } }),
      h.registry,
    );
    const keep = edgebox.lifecycle.get("keep")!;
    edgebox.text = configYaml({
      keep: { type: "test" },
      edit: { type: "test", password: "p".repeat(16) },
      add: { type: "test" },
    });

    const result = await edgebox.reload();

    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.generation, 2);
    assert.deepEqual(result.instances, {
      drop: "removed",
      keep: "unchanged",
      edit: "changed",
      add: "added",
    });
    assert.equal(h.count("create:keep"), 1);
    assert.equal(h.count("start:keep"), 1);
    assert.equal(h.count("stop:keep"), 0);
    assert.equal(edgebox.lifecycle.get("keep"), keep, "the very same instance serves");
    assert.equal(h.count("create:edit"), 2);
    assert.equal(h.count("stop:edit"), 1, "the old generation stopped");
    assert.equal(h.count("stop:drop"), 1);
    assert.equal(h.count("started:add"), 1);
    assert.equal(edgebox.lifecycle.get("edit")!.generation, 2);
    assert.equal(edgebox.lifecycle.get("edit")!.state, "ready");
    assert.equal((await edgebox.request("/v1/add")).status, 200);
    assert.equal((await problemOf(await edgebox.request("/v1/drop"))).code, "core.not_found");

    const plugins = await (await edgebox.request("/plugins")).json();
    assert.equal(plugins.generation, 2);
    assert.deepEqual(
      Object.fromEntries(
        plugins.plugins.map((p: { name: string; generation: number }) => [p.name, p.generation]),
      ),
      { keep: 1, edit: 2, add: 2 },
    );
  },
);

Deno.test(
  "a bad file changes nothing and its answer names each problem at file:line:col",
  SANITIZED,
  async () => {
    const h = createHarness({ test: [] });
    await using edgebox = await openReloadable(configYaml({ a: { type: "test" } }), h.registry);
    const calls = h.calls.length;
    const before = edgebox.reloader.app;

    for (
      const text of [
        "plugins: {a: {type: test\n", // syntax
        configYaml({ a: { type: "test", colour: "red" } }), // unknown key
        configYaml({ a: { type: "tset" } }), // unknown type
      ]
    ) {
      edgebox.text = text;
      const response = await edgebox.request("/admin/reload", { method: "POST" });
      assert.equal(response.status, 400);
      const problem = await problemOf(response);
      assert.equal(problem.code, "core.config_invalid");
      const problems = problem.problems as string[];
      assert.ok(problems.length >= 1);
      for (const line of problems) assert.match(line, /^test\.yaml:\d+:\d+ /);
    }
    assert.equal(h.calls.length, calls, "no instance was created, started or stopped");
    assert.equal(edgebox.reloader.app, before, "the routing table is the same");
    assert.equal(edgebox.reloader.generation, 1);
    assert.equal((await edgebox.request("/v1/a")).status, 200);
  },
);

Deno.test(
  "a changed instance that fails to start leaves the old one serving",
  SANITIZED,
  async () => {
    const h = createHarness({ test: [] });
    await using edgebox = await openReloadable(configYaml({ a: { type: "test" } }), h.registry);
    const old = edgebox.lifecycle.get("a")!;
    edgebox.text = configYaml({ a: { type: "test", failStart: true } });

    const result = await edgebox.reload();

    assert.ok(result.ok);
    assert.equal(result.instances.a, "failed");
    assert.match(result.failures.a!, /Cannot start plugin "a".*failStart is set/);
    assert.equal(edgebox.lifecycle.get("a"), old, "the old generation still serves");
    assert.equal(old.state, "ready");
    assert.equal((await edgebox.request("/v1/a")).status, 200);
    assert.equal(h.count("stop:a"), 1, "only the failed new generation was stopped");

    // Back to the settings that run: nothing to do.
    edgebox.text = configYaml({ a: { type: "test" } });
    const again = await edgebox.reload();
    assert.ok(again.ok);
    assert.equal(again.instances.a, "unchanged");
  },
);

Deno.test(
  "a request in flight on the old generation finishes before it stops",
  SANITIZED,
  async () => {
    const gate = Promise.withResolvers<void>();
    const slow = definePlugin({
      type: "slow",
      description: "answers once the test lets it",
      config: RecordingConfig,
      create() {
        const routes = createRouter();
        routes.get("/", async (c) => {
          await gate.promise;
          return c.json({ done: true });
        });
        return { routes };
      },
    });
    const h = createHarness({ test: [] }, [slow]);
    await using edgebox = await openReloadable(configYaml({ s: { type: "slow" } }), h.registry);
    const old = edgebox.lifecycle.get("s")!;
    const pending = edgebox.request("/v1/s");
    await waitFor(() => old.inFlight === 1, "the request to reach the old generation");
    edgebox.text = configYaml({ s: { type: "slow", password: "q".repeat(16) } });

    const reloading = edgebox.reload();
    await waitFor(
      () => edgebox.lifecycle.get("s") !== old,
      "the new generation to take the routes",
    );
    assert.equal(old.state, "stopping", "the old one waits for its request");
    gate.resolve();

    assert.equal((await pending).status, 200);
    assert.ok((await reloading).ok);
    assert.equal(old.state, "stopped");
  },
);

Deno.test(
  "an instance holding a data file stops before its next generation opens it, answering 503 meanwhile",
  SANITIZED,
  async () => {
    using dir = tempDir();
    const started = { count: 0, gate: Promise.withResolvers<void>() };
    const filed = definePlugin({
      type: "filed",
      description: "keeps a file in the data directory",
      config: RecordingConfig,
      create(ctx) {
        const routes = createRouter();
        routes.get("/", (c) => c.json({ ok: true }));
        return {
          routes,
          start: async () => {
            ctx.dataDir.file(`${ctx.name}.db`);
            if (started.count++ > 0) await started.gate.promise;
          },
        };
      },
    });
    const h = createHarness({ test: [] }, [filed]);
    const root = { server: { dataDir: dir.path } };
    await using edgebox = await openReloadable(
      configYaml({ f: { type: "filed", timeouts: { start: "5s" } } }, root),
      h.registry,
    );
    const old = edgebox.lifecycle.get("f")!;
    assert.deepEqual([...old.dataFiles], ["f.db"]);
    edgebox.text = configYaml(
      { f: { type: "filed", password: "r".repeat(16), timeouts: { start: "5s" } } },
      root,
    );

    const reloading = edgebox.reload();
    await waitFor(() => old.state === "stopped", "the old generation to stop first");
    const gap = await edgebox.request("/v1/f");
    assert.equal(gap.status, 503);
    assert.equal(gap.headers.get("retry-after"), "1");
    assert.equal((await problemOf(gap)).code, "core.plugin_unavailable");
    started.gate.resolve();

    const result = await reloading;
    assert.ok(result.ok);
    assert.equal(result.instances.f, "changed");
    assert.equal((await edgebox.request("/v1/f")).status, 200);
  },
);

Deno.test("a reload rotates API keys and changes the log level", SANITIZED, async () => {
  const h = createHarness({ test: [] });
  const key = (name: string) => ({ name, key: `${name}-key-0123456789abcdef`, scopes: ["*"] });
  const yaml = (level: string, ...keys: string[]) =>
    configYaml({ a: { type: "test" } }, { auth: { keys: keys.map(key) }, log: { level } });
  await using edgebox = await openReloadable(yaml("info", "old"), h.registry);
  const as = (name: string) => ({
    headers: { authorization: `Bearer ${name}-key-0123456789abcdef` },
  });
  assert.equal((await edgebox.request("/v1/a", as("old"))).status, 200);
  edgebox.text = yaml("warn", "new");

  const result = await edgebox.reload();

  assert.ok(result.ok);
  assert.deepEqual(result.core, ["auth", "log.level"]);
  assert.equal((await edgebox.request("/v1/a", as("old"))).status, 401);
  assert.equal((await edgebox.request("/v1/a", as("new"))).status, 200);
  assert.equal((await edgebox.request("/v1/a")).status, 401);
});
