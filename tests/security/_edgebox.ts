/**
 * The edgebox the adversarial suite attacks: every built-in plugin on its embedded backend,
 * behind `auth.mode: apiKey` with an admin key and one key scoped to each instance, served by
 * `Deno.serve` on a free loopback port so requests cross a real socket.
 */
import { createApp } from "../../core/app.ts";
import { builtinRegistry as builtinPlugins } from "../../plugins/mod.ts";
import { configYaml, loadConfig, openLifecycle, silentLog } from "../_helpers.ts";

/** Instances the suite attacks, each mounted at `/v1/<name>`. */
export const INSTANCES = ["echo", "cache", "graph", "messaging", "storage"] as const;

/** A served edgebox; `await using` it so the server and every plugin stop. */
export interface ServedEdgebox extends AsyncDisposable {
  port: number;
  /** Key with scope `*`. */
  adminKey: string;
  /** Instance name -> a key scoped to `<instance>:*` only. */
  scopedKeys: Record<string, string>;
  /** A request through `fetch` with the admin key, for reading state back. */
  admin(path: string, init?: RequestInit): Promise<Response>;
}

/** Starts the fixture; `server` adds fields under `server:` (limits, timeouts). */
export async function serveEdgebox(
  options: { server?: Record<string, unknown> } = {},
): Promise<ServedEdgebox> {
  const dataDir = await Deno.makeTempDir({ prefix: "edgebox-security-" });
  const adminKey = "admin-key-0123456789abcdef";
  const scopedKeys = Object.fromEntries(
    INSTANCES.map((name) => [name, `${name}-key-0123456789abcdef`]),
  );
  const yaml = configYaml({
    echo: { greeting: "hi" },
    cache: {},
    graph: { labels: ["Feature", "Pwned"], relationships: ["DEPENDS_ON"] },
    messaging: {
      streams: [{ name: "events", subjects: ["events.>"], storage: "memory" }],
      consumers: [{ stream: "events", name: "worker" }],
    },
    storage: { backend: "filesystem", root: `${dataDir}/storage` },
  }, {
    server: { host: "127.0.0.1", port: 0, ...options.server },
    auth: {
      mode: "apiKey",
      keys: [
        { name: "admin", key: adminKey, scopes: ["*"] },
        ...INSTANCES.map((name) => ({
          name: `only-${name}`,
          key: scopedKeys[name],
          scopes: [`${name}:*`],
        })),
      ],
    },
  });
  const config = loadConfig(yaml, builtinPlugins);
  const log = silentLog();
  const running = openLifecycle(config, builtinPlugins, { log });
  await running.lifecycle.start();
  const app = createApp({ config, lifecycle: running.lifecycle, log });
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => listening.resolve(port),
  }, app.fetch);
  const port = await listening.promise;
  return {
    port,
    adminKey,
    scopedKeys,
    admin: (path, init = {}) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${adminKey}`, ...init.headers },
      }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await running.lifecycle.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
