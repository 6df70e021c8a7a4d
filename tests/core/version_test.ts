/** Specification of `core/version.ts`: the code and the package manifest name one version. */
import assert from "node:assert/strict";
import manifest from "../../deno.json" with { type: "json" };
import { VERSION } from "../../core/version.ts";

Deno.test("the version in code is the version deno.json publishes", () => {
  assert.equal(VERSION, manifest.version);
});
