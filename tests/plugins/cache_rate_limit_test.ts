/** The core's `server.rateLimit` counted by the cache plugin, on each of its backends. */
import assert from "node:assert/strict";
import { cachePlugin } from "../../plugins/cache/mod.ts";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import type { PluginDefinition, PluginRegistry } from "../../core/plugin.ts";
import { configYaml, openApp, problemOf, SANITIZED, waitFor } from "../_helpers.ts";
import { realService } from "../contract/_services.ts";

const registry: PluginRegistry = new Map<string, PluginDefinition>([
  ["cache", cachePlugin],
  ["echo", echoPlugin],
]);
const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

function limitedConfig(cache: Record<string, unknown>): string {
  return configYaml({ cache, echo: { backend: "memory" } }, {
    server: {
      rateLimit: { store: "cache", rules: [{ prefix: "/v1/echo", limit: 3, window: "1s" }] },
    },
  });
}

function rateLimitSuite(backend: string, cache: () => Record<string, unknown>): void {
  Deno.test(
    `rate limit on ${backend}: the request past the limit is 429, and the window resets`,
    SANITIZED,
    async () => {
      await using running = await openApp(limitedConfig(cache()), registry);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await running.request("/v1/echo");
        statuses.push(response.status);
        if (response.status === 429) {
          assert.equal((await problemOf(response)).code, "core.rate_limited");
          assert.ok(Number(response.headers.get("retry-after")) >= 1);
        } else await response.body?.cancel();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      await waitFor(async () => {
        const response = await running.request("/v1/echo");
        await response.body?.cancel();
        return response.status === 200;
      }, "the window to reset");
    },
  );
}

rateLimitSuite("memory", () => ({ backend: "memory" }));
if (await realService("redis (rate limit)", redisUrl, 6379)) {
  rateLimitSuite("redis", () => ({
    backend: "redis",
    url: redisUrl,
    keyPrefix: `edgebox-test:${crypto.randomUUID()}:`,
  }));
}
