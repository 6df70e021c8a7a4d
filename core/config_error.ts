/**
 * How a config problem is reported: one {@linkcode ConfigIssue} per problem, at its
 * `file:line:col`, and one {@linkcode ConfigError} carrying them all.
 */

/** One problem found in a config file. */
export interface ConfigIssue {
  /** Path of the field at fault (`plugins.cache.url`); empty for syntax errors. */
  path: (string | number)[];
  message: string;
  line: number;
  col: number;
}

/** A config that cannot be used; `issues` holds every problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly file: string, readonly issues: ConfigIssue[]) {
    super(issues.map((issue) => formatIssue(file, issue)).join("\n"));
  }
}

/** `FILE:LINE:COL path.to.field: message`, the format editors and CI annotate. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const path = issue.path.length ? issue.path.join(".") : "(file)";
  return `${file}:${issue.line}:${issue.col} ${path}: ${issue.message}`;
}

/** Issues in reading order; issues at the same place keep the order they were found in. */
export function byPosition(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}
