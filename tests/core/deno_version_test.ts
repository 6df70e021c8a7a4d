/** The minimum Deno version, and the entry point that checks it before loading anything else. */
import assert from "node:assert/strict";
import { denoVersionProblem, MIN_DENO_VERSION } from "../../core/deno_version.ts";

Deno.test("Deno older than the minimum gets one line saying to upgrade", () => {
  for (const old of ["2.1.4", "2.4.5", "2.6.8", "2.7.14", "1.46.3"]) {
    const problem = denoVersionProblem(old);
    assert.ok(problem, old);
    assert.match(
      problem,
      new RegExp(`Deno ${MIN_DENO_VERSION} or later is required, this is Deno ${old}`),
    );
    assert.doesNotMatch(problem, /\n/);
  }
});

Deno.test("the minimum and newer versions pass", () => {
  for (const ok of [MIN_DENO_VERSION, "2.8.3", "2.9.6", "2.10.0", "3.0.0", Deno.version.deno]) {
    assert.equal(denoVersionProblem(ok), undefined, ok);
  }
});

Deno.test("main.ts loads nothing but the version check before checking", async () => {
  const text = await Deno.readTextFile(new URL("../../main.ts", import.meta.url));
  const staticImports = [...text.matchAll(/^import (?!type )[^;]*from "([^"]+)"/gm)].map((m) =>
    m[1]
  );
  assert.deepEqual(staticImports, ["./core/deno_version.ts"]);
  const check = await Deno.readTextFile(new URL("../../core/deno_version.ts", import.meta.url));
  assert.doesNotMatch(check, /^import /m, "the check imports nothing");
});
