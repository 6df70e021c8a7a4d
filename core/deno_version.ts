/**
 * The oldest Deno edgebox runs on, checked before anything else loads: an older Deno fails on the
 * built-in config's `with { type: "text" }` import (2.7 and before) or on the lockfile (2.1) with
 * an error that does not say the fix is to upgrade.
 */

/** The oldest Deno edgebox is tested on and known to run on. */
export const MIN_DENO_VERSION = "2.8.0";

function parts(version: string): number[] {
  return version.split(/[.+-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
}

/** One line saying why `version` is too old, or `undefined` when it will do. */
export function denoVersionProblem(version: string = Deno.version.deno): string | undefined {
  const have = parts(version);
  const need = parts(MIN_DENO_VERSION);
  for (let i = 0; i < need.length; i++) {
    if ((have[i] ?? 0) > need[i]!) return undefined;
    if ((have[i] ?? 0) < need[i]!) {
      return `Deno ${MIN_DENO_VERSION} or later is required, this is Deno ${version} ` +
        `(upgrade with: deno upgrade)`;
    }
  }
  return undefined;
}
