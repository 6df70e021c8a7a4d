/**
 * The edgebox binary: the command line over the built-in plugins. A build with plugins of your
 * own is the same two lines with your list (see `examples/plugin-kv-audit/main.ts`).
 */
import { main } from "./core/cli.ts";
import { builtinPlugins } from "./plugins/mod.ts";

export { main };

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { plugins: builtinPlugins }));
}
