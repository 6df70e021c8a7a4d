/**
 * Start-up loads no client library that no instance uses: the real-service backends (Redis,
 * NATS, Neo4j, S3) load their driver module, and with it ioredis, the NATS client,
 * neo4j-driver or the AWS SDK, only when an instance of theirs connects (core/lazy.ts).
 */
import assert from "node:assert/strict";
import { lazyDriver } from "../../core/lazy.ts";
import { noopMetrics } from "../../core/metrics.ts";
import type { Driver, HealthReport, PluginContext } from "../../core/plugin.ts";
import { builtinRegistry } from "../../plugins/mod.ts";
import { configYaml, loadConfig, silentLog } from "../_helpers.ts";

const CLIENT_LIBRARIES = /^(ioredis|neo4j-driver|@aws-sdk\/|@nats-io\/)/;

/** The npm packages a fresh process evaluates to import the CLI and load `types`. */
async function packagesLoadedFor(types: string[]): Promise<string[]> {
  const probe = new URL("./fixtures/lazy_probe.ts", import.meta.url).pathname;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, probe, ...types],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("importing the CLI and the built-in plugins evaluates no plugin's dependencies", async () => {
  const packages = await packagesLoadedFor([]);
  // The probe does see CommonJS packages: the config reader's yaml is one.
  assert.ok(packages.includes("yaml"), `the probe saw ${packages.join(", ")}`);
  assert.ok(!packages.includes("prom-client"), `the probe saw ${packages.join(", ")}`);
  assert.deepEqual(packages.filter((name) => CLIENT_LIBRARIES.test(name)), []);
});

Deno.test("loading a plugin type evaluates its own dependencies and no client library", async () => {
  const packages = await packagesLoadedFor([...builtinRegistry.keys()]);
  assert.ok(packages.includes("prom-client"), `the probe saw ${packages.join(", ")}`);
  assert.deepEqual(packages.filter((name) => CLIENT_LIBRARIES.test(name)), []);
});

/** A driver with private state, as the real ones have: a call with the wrong `this` throws. */
class FakeDriver implements Driver {
  readonly features = new Set(["real"]);
  #connected = false;
  closed = 0;
  connect(): void {
    this.#connected = true;
  }
  ping(): HealthReport {
    return { status: this.#connected ? "ready" : "down" };
  }
  close(): void {
    this.closed++;
  }
  get(key: string): Promise<string> {
    return Promise.resolve(`${key}:${this.#connected}`);
  }
}

Deno.test("a lazy driver answers its known facts before it connects and loads nothing", () => {
  let loads = 0;
  const driver = lazyDriver<FakeDriver>({
    load: () => Promise.resolve((loads++, new FakeDriver())),
    known: { features: new Set(["known"]) },
  });
  assert.deepEqual([...driver.features], ["known"]);
  assert.deepEqual((driver.ping() as HealthReport).status, "down");
  assert.deepEqual(driver.close(), undefined);
  assert.deepEqual(loads, 0);
});

Deno.test("a lazy driver loads once at connect, then is the real driver", async () => {
  let loads = 0;
  const driver = lazyDriver<FakeDriver>({
    load: () => Promise.resolve((loads++, new FakeDriver())),
    known: { features: new Set(["known"]) },
  });
  const captured = driver.get; // captured before connect, as a wrapper would
  await driver.connect();
  await driver.connect();
  assert.deepEqual(loads, 1);
  assert.deepEqual([...driver.features], ["real"]);
  assert.deepEqual((driver.ping() as HealthReport).status, "ready");
  assert.deepEqual(await driver.get("a"), "a:true");
  assert.deepEqual(await captured("b"), "b:true");
  await driver.close();
  assert.deepEqual(driver.closed, 1);
});

Deno.test("a lazy driver whose module fails to load tries again at the next connect", async () => {
  let attempts = 0;
  const driver = lazyDriver<FakeDriver>({
    load: () =>
      ++attempts === 1
        ? Promise.reject(new Error("module failed"))
        : Promise.resolve(new FakeDriver()),
    known: {},
  });
  await assert.rejects(async () => await driver.connect(), /module failed/);
  await driver.connect();
  assert.deepEqual(attempts, 2);
  assert.deepEqual((driver.ping() as HealthReport).status, "ready");
});

Deno.test("a lazy backend declares the facts its real driver has", async () => {
  const blocks = {
    cache: { backend: "redis", url: "redis://127.0.0.1:1" },
    messaging: { backend: "nats", url: "nats://127.0.0.1:1" },
    graph: { backend: "neo4j", url: "bolt://127.0.0.1:1", user: "neo4j", password: "x" },
    storage: {
      backend: "s3",
      endpoint: "http://127.0.0.1:1",
      bucket: "bucket",
      accessKeyId: "a",
      secretAccessKey: "s",
    },
  };
  const config = loadConfig(configYaml(blocks), builtinRegistry);
  for (const instance of config.plugins) {
    const controller = new AbortController();
    let driver: object | undefined;
    const ctx = {
      name: instance.name,
      type: instance.type,
      config: instance.config,
      log: silentLog(),
      metrics: noopMetrics,
      signal: controller.signal,
      draining: controller.signal,
      dataDir: undefined as never,
      use: () => undefined as never,
      instrument: <T extends object>(d: T) => (driver = d as typeof driver, d),
      span: (_name: string, _attributes: unknown, work: () => Promise<unknown>) => work(),
      traceHeaders: () => ({}),
      withTraceParent: (_headers: unknown, work: () => unknown) => work(),
    } as unknown as PluginContext<unknown>;
    builtinRegistry.get(instance.type)!.create(ctx);
    const real = await realDriver(instance.type, ctx);
    // Every public field of the real driver (methods aside) reads the same before it loads.
    for (const [field, value] of Object.entries(real)) {
      if (typeof value === "function") continue;
      const lazy = (driver as Record<string, unknown>)[field];
      assert.deepEqual(
        value instanceof Set ? [...value] : value,
        lazy instanceof Set ? [...lazy] : lazy,
        `${instance.type}.${field}`,
      );
    }
  }
});

/** The driver a backend's module builds, made directly (no I/O: constructors do none). */
async function realDriver(
  type: string,
  // deno-lint-ignore no-explicit-any
  ctx: PluginContext<any>,
): Promise<object> {
  switch (type) {
    case "cache": {
      const { RedisCache, redisCacheOptions } = await import("../../plugins/cache/redis.ts");
      return new RedisCache(redisCacheOptions(ctx));
    }
    case "messaging": {
      const { NatsMessaging } = await import("../../plugins/messaging/nats.ts");
      const { natsOptions } = await import("../../plugins/messaging/config.ts");
      return new NatsMessaging(natsOptions(ctx));
    }
    case "graph": {
      const { Neo4jGraph } = await import("../../plugins/graph/neo4j.ts");
      const { neo4jGraphOptions } = await import("../../plugins/graph/config.ts");
      return new Neo4jGraph(neo4jGraphOptions(ctx.config, ctx.log));
    }
    default: {
      const { S3Storage, s3StorageOptions } = await import("../../plugins/storage/s3.ts");
      return new S3Storage(s3StorageOptions(ctx.config));
    }
  }
}
