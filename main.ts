/**
 * The edgebox binary: the command line over the built-in plugins. A build with plugins of your
 * own is the same two lines with your list (see `examples/plugin-kv-audit/main.ts`).
 *
 * The CLI is imported only after the Deno version is checked: an older Deno would otherwise stop
 * at loading it (the built-in config is a `with { type: "text" }` import) with an error that does
 * not say to upgrade. The specifiers are literals, so `deno compile` still bundles them.
 */
import type { MainOptions } from "./core/cli.ts";
import { denoVersionProblem } from "./core/deno_version.ts";

export type { MainOptions };

/** Runs the CLI over `options.plugins` and returns the exit code (see `core/cli.ts`). */
export async function main(args: string[], options: MainOptions): Promise<number> {
  const cli = await import("./core/cli.ts");
  return await cli.main(args, options);
}

if (import.meta.main) {
  const problem = denoVersionProblem();
  if (problem) {
    console.error(`edgebox: ${problem}`);
    Deno.exit(1);
  }
  const { builtinPlugins } = await import("./plugins/mod.ts");
  Deno.exit(await main(Deno.args, { plugins: builtinPlugins }));
}
