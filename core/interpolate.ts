/**
 * `${VAR}`, `${VAR:-default}` and `${VAR:?message}` in config values, as in POSIX shells and
 * Docker Compose. `$${` writes a literal `${`. An unset variable without a default is an error
 * rather than an empty string: a silently empty password or URL is worse than a refusal.
 */

/** The interpolated text, or why it could not be produced. */
export type InterpolationResult = { ok: true; value: string } | { ok: false; error: string };

const REFERENCE =
  /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}\\]|\\.)*))?\}|\$\{[^}]*\}?/g;

/** Replaces every reference in `text` using `env`. */
export function interpolate(
  text: string,
  env: (name: string) => string | undefined,
): InterpolationResult {
  let error: string | undefined;
  const value = text.replace(
    REFERENCE,
    (match, name?: string, operator?: string, argument?: string) => {
      if (match === "$${") return "${";
      if (name === undefined) {
        error ??=
          `Invalid variable reference "${match}"; expected \${NAME}, \${NAME:-default} or \${NAME:?message}`;
        return match;
      }
      const raw = env(name);
      const unset = operator?.startsWith(":") ? raw === undefined || raw === "" : raw === undefined;
      if (!unset) return raw!;
      if (argument?.includes("${")) {
        error ??=
          `Nested reference in "${match}" is not supported; set ${name} or use a literal default`;
        return match;
      }
      if (operator === ":-" || operator === "-") return (argument ?? "").replace(/\\(.)/g, "$1");
      if (operator === ":?" || operator === "?") {
        error ??= `Environment variable ${name} is required: ${
          argument?.replace(/\\(.)/g, "$1") || "not set"
        }`;
        return match;
      }
      error ??=
        `Environment variable ${name} is not set (write \${${name}:-default} to allow that)`;
      return match;
    },
  );
  return error === undefined ? { ok: true, value } : { ok: false, error };
}
