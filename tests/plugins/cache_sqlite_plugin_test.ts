/**
 * The cache plugin on its sqlite backend, through the whole app: the instance keeps its entries in
 * `<server.dataDir>/<instance>.db`, and a second app on the same directory serves them back.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { configYaml, openApp, SANITIZED } from "../_helpers.ts";

const registry = new Map([["cache", cachePlugin]]);

function yaml(dataDir: string): string {
  return configYaml(
    { sessions: { type: "cache", backend: "sqlite", durability: "fsync" } },
    { server: { dataDir } },
  );
}

Deno.test(
  "cache on sqlite: entries written over HTTP are served after a restart",
  SANITIZED,
  async () => {
    const dataDir = Deno.makeTempDirSync({ prefix: "edgebox-cache-plugin-" });
    try {
      {
        await using running = await openApp(yaml(dataDir), registry);
        const put = await running.request("/v1/sessions/keys/greeting", {
          method: "PUT",
          body: "hello",
          headers: { "content-type": "text/plain" },
        });
        assert.equal(put.status, 201, await put.text());
      }
      assert.ok(Deno.statSync(join(dataDir, "sessions.db")).isFile);

      await using running = await openApp(yaml(dataDir), registry);
      const get = await running.request("/v1/sessions/keys/greeting");

      assert.equal(get.status, 200);
      assert.equal(get.headers.get("content-type"), "text/plain");
      assert.equal(await get.text(), "hello");
    } finally {
      Deno.removeSync(dataDir, { recursive: true });
    }
  },
);
