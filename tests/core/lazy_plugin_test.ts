/**
 * A lazy plugin type (core/lazy_plugin.ts) validates its config without loading its
 * implementation, loads it once when an instance is enabled, and is refused when what it loads
 * is not the type it promised.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { enabledTypes, lazyPlugin, loadPlugins } from "../../core/lazy_plugin.ts";
import {
  defineBackend,
  definePlugin,
  type PluginDefinition,
  registryOf,
} from "../../core/plugin.ts";
import { openTestEdgebox } from "../../testing/mod.ts";
import { loadConfig } from "../_helpers.ts";

const MemoryConfig = z.strictObject({ backend: z.literal("memory"), greeting: z.string() });
const DiskConfig = z.strictObject({ backend: z.literal("disk"), path: z.string() });

/** A two-backend type whose implementation answers its greeting at `GET /`. */
function implementation(type = "hello", backends = ["memory", "disk"]): PluginDefinition {
  const driver = { connect() {}, ping: () => ({ status: "ready" as const }), close() {} };
  return definePlugin({
    type,
    description: "says hello",
    backends: Object.fromEntries(
      backends.map((name) => [
        name,
        defineBackend({
          config: name === "memory" ? MemoryConfig : DiskConfig,
          instrument: false,
          create: () => driver,
        }),
      ]),
    ),
    api: (_driver, ctx) => ({ greeting: (ctx.config as { greeting?: string }).greeting }),
  });
}

/** A lazy `hello` type that counts its loads. */
function lazyHello(
  load: () => Promise<PluginDefinition> = () => Promise.resolve(implementation()),
) {
  const loads = { count: 0 };
  const plugin = lazyPlugin({
    type: "hello",
    description: "says hello",
    config: { memory: MemoryConfig, disk: DiskConfig },
    load: () => (loads.count++, load()),
  });
  return { plugin, loads };
}

Deno.test("a lazy type validates its config, backends included, without loading", () => {
  const { plugin, loads } = lazyHello();
  const registry = registryOf([plugin]);
  assert.deepEqual(plugin.backends, ["memory", "disk"]);
  const config = loadConfig(
    "plugins:\n  hello: { backend: disk, path: /tmp/x }\n",
    registry,
  );
  assert.deepEqual(enabledTypes(config), ["hello"]);
  assert.throws(
    () => loadConfig("plugins:\n  hello: { backend: disk, greeting: hi }\n", registry),
    /path/,
  );
  assert.equal(loads.count, 0);
});

Deno.test("creating an instance of a lazy type before it is loaded is a clear error", () => {
  const { plugin } = lazyHello();
  assert.throws(() => plugin.create({} as never), /"hello" is not loaded yet: await loadPlugins/);
});

Deno.test("loadPlugins loads each enabled type once, and only those", async () => {
  const hello = lazyHello();
  const other = lazyPlugin({
    type: "other",
    description: "never enabled",
    config: z.strictObject({}),
    load: () => Promise.reject(new Error("must not load")),
  });
  const registry = registryOf([hello.plugin, other]);
  await Promise.all([
    loadPlugins(registry, ["hello", "hello"]),
    loadPlugins(registry, ["hello", "unknown"]),
  ]);
  await loadPlugins(registry, ["hello"]);
  assert.equal(hello.loads.count, 1);
});

Deno.test("a load that fails is tried again by the next one", async () => {
  let fail = true;
  const { plugin, loads } = lazyHello(() =>
    fail ? Promise.reject(new Error("module not found")) : Promise.resolve(implementation())
  );
  const registry = registryOf([plugin]);
  await assert.rejects(loadPlugins(registry, ["hello"]), /module not found/);
  fail = false;
  await loadPlugins(registry, ["hello"]);
  assert.equal(loads.count, 2);
});

Deno.test("a lazy type that loads another type, or other backends, is refused", async () => {
  for (const wrong of [implementation("goodbye"), implementation("hello", ["memory"])]) {
    const { plugin } = lazyHello(() => Promise.resolve(wrong));
    await assert.rejects(
      loadPlugins(registryOf([plugin]), ["hello"]),
      /Plugin type "hello" loaded the definition of/,
    );
  }
});

Deno.test("the test kit loads a lazy type and serves it like any other", async () => {
  const { plugin, loads } = lazyHello();
  await using edgebox = await openTestEdgebox({
    plugins: [plugin],
    config: { plugins: { hello: { backend: "memory", greeting: "hi" } } },
  });
  assert.equal(loads.count, 1);
  const hello = edgebox.lifecycle.plugins.find((p) => p.name === "hello");
  assert.deepEqual(hello?.instance.exports, { greeting: "hi" });
});
