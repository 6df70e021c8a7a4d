/** The edgebox version, printed by `edgebox version` and served in `/openapi.json`. */
export const VERSION = "0.1.0";
