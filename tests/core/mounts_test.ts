import assert from "node:assert/strict";
import { z } from "zod";
import { createApp } from "../../core/app.ts";
import { MountConflictError } from "../../core/mounts.ts";
import { definePlugin, registryOf } from "../../core/plugin.ts";
import { createRouter } from "../../core/routes.ts";
import { configYaml, loadConfig, openLifecycle, SANITIZED, silentLog } from "../_helpers.ts";

/** A plugin type that mounts `path` at the root. */
function rootPlugin(type: string, path: string) {
  return definePlugin({
    type,
    description: `Mounts ${path} at the root (test)`,
    config: z.strictObject({ backend: z.literal("memory") }),
    create() {
      const routes = createRouter();
      routes.get(path, (c) => c.text("mine"));
      return { rootRoutes: { routes } };
    },
  });
}

async function appFor(plugins: ReturnType<typeof rootPlugin>[]) {
  const registry = registryOf(plugins);
  const config = loadConfig(
    configYaml(Object.fromEntries(plugins.map((p) => [p.type, {}]))),
    registry,
  );
  const running = openLifecycle(config, registry);
  try {
    return createApp({ config, lifecycle: running.lifecycle, log: silentLog() });
  } finally {
    await running[Symbol.asyncDispose]();
  }
}

Deno.test(
  "a plugin that mounts a core path at the root is refused before serving",
  SANITIZED,
  async () => {
    for (const path of ["/health", "/ready", "/plugins", "/openapi.json", "/docs", "/v1/cache"]) {
      await assert.rejects(appFor([rootPlugin("a", path)]), MountConflictError, path);
    }
  },
);

Deno.test("two plugins that mount one root path are refused, naming both", SANITIZED, async () => {
  await assert.rejects(
    appFor([rootPlugin("a", "/metrics"), rootPlugin("b", "/metrics")]),
    (error: unknown) =>
      error instanceof MountConflictError && /"b"/.test(error.message) &&
      /"a"/.test(error.message),
  );
});

Deno.test("a root path of its own is mounted and answered", SANITIZED, async () => {
  const app = await appFor([rootPlugin("a", "/mine")]);
  const response = await app.request("/mine");
  assert.equal(await response.text(), "mine");
});

Deno.test(
  "a root route under the instance's own mount is its own; under another's it is refused",
  SANITIZED,
  async () => {
    const app = await appFor([rootPlugin("a", "/v1/a/public")]);
    assert.equal(await (await app.request("/v1/a/public")).text(), "mine");
    await assert.rejects(appFor([rootPlugin("a", "/v1/b/public")]), MountConflictError);
  },
);
