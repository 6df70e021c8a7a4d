/**
 * Specification of `core/data_dir.ts` and of how the lifecycle uses it: the data directory is
 * created and locked by the first instance that asks for a file in it, a second edgebox on the
 * same directory cannot start (and is not retried), and stopping releases the lock.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { DataDirectory, DataDirInUseError, dataDirPath } from "../../core/data_dir.ts";
import { StartupError } from "../../core/lifecycle.ts";
import { definePlugin, type PluginContext, registryOf } from "../../core/plugin.ts";
import { configYaml, loadConfig, openLifecycle, SANITIZED, tempDir } from "../_helpers.ts";

Deno.test("nothing is created until a file is asked for", SANITIZED, () => {
  using temp = tempDir();
  const root = temp.path;
  const path = join(root, "data");
  using dir = new DataDirectory(path);

  assert.equal(existsSync(path), false);
  assert.equal(dir.file("cache.db"), join(path, "cache.db"));
  assert.equal(existsSync(path), true);
  assert.equal(dir.claimed, true);
});

Deno.test("a relative data directory is resolved against the working directory", () => {
  using dir = new DataDirectory("./data");

  assert.equal(dir.path, join(Deno.cwd(), "data"));
});

Deno.test("a second holder of the same directory is refused, naming it", SANITIZED, () => {
  using temp = tempDir();
  const root = temp.path;
  using first = new DataDirectory(root);
  first.file("a.db");
  using second = new DataDirectory(root);

  assert.throws(() => second.file("b.db"), (error: Error) => {
    assert.ok(error instanceof DataDirInUseError);
    assert.match(error.message, new RegExp(`data directory ${root} is in use`));
    return true;
  });
});

Deno.test("releasing the lock lets another edgebox take the directory", SANITIZED, () => {
  using temp = tempDir();
  const root = temp.path;
  const first = new DataDirectory(root);
  first.file("a.db");
  first[Symbol.dispose]();
  using second = new DataDirectory(root);

  assert.equal(second.file("a.db"), join(root, "a.db"));
});

Deno.test("only plain file names are handed out", SANITIZED, () => {
  using temp = tempDir();
  const root = temp.path;
  using dir = new DataDirectory(root);

  for (const name of ["../x.db", "a/b.db", "a\\b.db", ".hidden", "edgebox.lock"]) {
    assert.throws(() => dir.file(name), /not a plain file name/, name);
  }
});

Deno.test("the data directory comes from the config, else EDGEBOX_DATA_DIR, else ./data", () => {
  const saved = Deno.env.get("EDGEBOX_DATA_DIR");
  try {
    Deno.env.set("EDGEBOX_DATA_DIR", "/srv/edgebox");
    assert.equal(dataDirPath("/etc/x"), "/etc/x");
    assert.equal(dataDirPath(undefined), "/srv/edgebox");
    Deno.env.delete("EDGEBOX_DATA_DIR");
    assert.equal(dataDirPath(undefined), "./data");
  } finally {
    if (saved === undefined) Deno.env.delete("EDGEBOX_DATA_DIR");
    else Deno.env.set("EDGEBOX_DATA_DIR", saved);
  }
});

/** A plugin that opens a file in the data directory when it starts. */
function fileKeeper(starts: string[]) {
  return definePlugin({
    type: "keeper",
    description: "keeps a file in the data directory",
    config: z.strictObject({ backend: z.literal("memory") }),
    create: (ctx: PluginContext<unknown>) => ({
      start() {
        starts.push(ctx.name);
        Deno.writeTextFileSync(ctx.dataDir.file(`${ctx.name}.txt`), "kept");
      },
    }),
  });
}

Deno.test(
  "a second edgebox on a held data directory fails to start at once, saying why",
  SANITIZED,
  async () => {
    using temp = tempDir();
    const root = temp.path;
    const starts: string[] = [];
    const registry = registryOf([fileKeeper(starts)]);
    const yaml = configYaml({ keeper: { type: "keeper", startAttempts: 5 } }, {
      server: { dataDir: root },
    });
    await using first = openLifecycle(loadConfig(yaml, registry), registry);
    await first.lifecycle.start();
    await using second = openLifecycle(loadConfig(yaml, registry), registry);

    const error = await second.lifecycle.start().catch((e) => e);

    assert.ok(error instanceof StartupError);
    assert.match(error.message, /is in use by another edgebox/);
    assert.equal(starts.length, 2, "the refused start is not retried");
    await first.lifecycle.stop();
    await using third = openLifecycle(loadConfig(yaml, registry), registry);
    await third.lifecycle.start();
    assert.equal(third.lifecycle.get("keeper")?.state, "ready");
  },
);
