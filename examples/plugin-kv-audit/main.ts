/**
 * A custom edgebox: every built-in plugin plus the audit plugin. `deno compile` of this file is a
 * single binary with all of them in it:
 *
 *     deno compile -A --output dist/edgebox-audit examples/plugin-kv-audit/main.ts
 *     dist/edgebox-audit serve --config examples/plugin-kv-audit/edgebox.yaml
 */
import { builtinPlugins, main } from "../../mod.ts";
import { auditPlugin } from "./mod.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { plugins: [...builtinPlugins, auditPlugin] }));
}
