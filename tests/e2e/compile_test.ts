/**
 * Builds the single binary with `deno task compile`'s flags and runs it. `deno compile` needs
 * Deno's base runtime (denort), which it downloads unless `DENORT_BIN` points at one or it is
 * cached; where neither holds, this test is reported as ignored with that reason.
 */
import assert from "node:assert/strict";
import { spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

function cachedDenort(): string | undefined {
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const target = `${Deno.build.arch}-${
    Deno.build.os === "darwin" ? "apple-darwin" : "unknown-linux-gnu"
  }`;
  const zip = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${target}.zip`;
  try {
    Deno.statSync(zip);
    return zip;
  } catch {
    return undefined;
  }
}

const denort = Deno.env.get("DENORT_BIN") ?? cachedDenort();

/** The compile task's permission flags, so the test builds what users build. */
async function compileFlags(): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const task: string = deno.tasks.compile;
  return task.split(/\s+/).filter((arg) =>
    arg.startsWith("--allow") || arg.startsWith("--include")
  );
}

Deno.test({
  name: denort
    ? "the compiled binary serves the embedded config and stops on SIGTERM"
    : "the compiled binary serves the embedded config (ignored: no denort runtime; set DENORT_BIN)",
  ignore: denort === undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const output = `${dir}/edgebox`;
      const build = await new Deno.Command(Deno.execPath(), {
        args: [
          "compile",
          ...await compileFlags(),
          "--output",
          output,
          new URL("../../main.ts", import.meta.url).pathname,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
      const edgebox = await spawnEdgebox({ binary: output, args: ["serve", "--port", "0"] });
      try {
        const report = await waitForStatus(`${edgebox.url}/ready`, 200);
        assert.equal(report.plugins.echo.state, "ready");
      } finally {
        edgebox.kill();
        assert.equal((await edgebox.exited()).code, 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
