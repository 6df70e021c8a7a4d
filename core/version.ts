/**
 * The edgebox version, printed by `edgebox version` and served in `/openapi.json`. The one
 * constant in code; `deno.json`'s "version" must match it (tests/core/version_test.ts checks).
 */
export const VERSION = "0.1.0";
