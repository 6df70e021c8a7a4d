/**
 * fast-check settings shared by the adversarial suite: a fixed seed in CI (or `FC_SEED`), a
 * random one locally; fast-check names the seed and the shrunk counterexample on failure, so a
 * failing run can be replayed with `FC_SEED=<seed>`.
 */
import type { Parameters } from "fast-check";

/** The seed of this run: `FC_SEED` if set, a fixed one under CI, otherwise random. */
export const SEED: number = (() => {
  const given = Deno.env.get("FC_SEED");
  if (given !== undefined && given !== "") return Number(given);
  if (Deno.env.get("CI")) return 20261205;
  return Math.floor(Math.random() * 2 ** 31);
})();

/** Parameters for `fc.assert`: the seed above and `runs` runs (`FC_RUNS` multiplies them). */
export function runs<T>(count: number): Parameters<T> {
  const factor = Number(Deno.env.get("FC_RUNS_FACTOR") ?? "1");
  return { seed: SEED, numRuns: Math.max(1, Math.round(count * factor)), endOnFailure: true };
}
