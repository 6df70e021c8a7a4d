import { parseConfig } from "../core/config.ts";
import { builtinPlugins } from "../core/registry.ts";
import { Lifecycle } from "../core/lifecycle.ts";
import { createApp } from "../core/app.ts";
import { createLogger } from "../core/log.ts";
const mode = Deno.args[1];
const config = parseConfig("plugins: {echo: {backend: memory}}", {
  file: "x",
  registry: builtinPlugins,
});
const write = mode === "nolog" ? () => {} : undefined;
const log = createLogger({ format: "json", ...(write ? { write } : {}) });
const lc = new Lifecycle(config, { registry: builtinPlugins, log });
await lc.start();
const app = createApp({ config, lifecycle: lc, log });
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen() {} }, app.fetch);
