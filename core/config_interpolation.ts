/**
 * Substitutes `${ENV}` references in a config document's values, in place, remembering which
 * values came from the environment unquoted (they may be retyped) and which could not be
 * substituted (they are reported once, here, and not again by validation).
 */
import YAML from "yaml";
import type { ConfigIssue } from "./config_error.ts";
import { type ConfigSource, pathKey, pathOf } from "./config_source.ts";
import { interpolate } from "./interpolate.ts";

/** What interpolating a document found. */
export interface Interpolation {
  /** One issue per value whose reference could not be substituted, in document order. */
  issues: ConfigIssue[];
  /**
   * Paths (see {@linkcode pathKey}) of unquoted values that came from the environment: they may
   * become numbers or booleans where the schema asks for one (`port: ${PORT}`); quoted ones
   * always stay strings.
   */
  retypable: ReadonlySet<string>;
  /** Paths of the values whose interpolation failed. */
  failed: ReadonlySet<string>;
}

/** Substitutes every `${VAR}` in the document's values (never in keys) with `env`. */
export function interpolateSource(
  source: ConfigSource,
  env: (name: string) => string | undefined,
): Interpolation {
  const issues: ConfigIssue[] = [];
  const retypable = new Set<string>();
  const failed = new Set<string>();
  const { document } = source;
  YAML.visit(document, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("$")) return;
      const result = interpolate(node.value, env);
      const path = pathOf(document.contents, node);
      if (!result.ok) {
        failed.add(pathKey(path));
        issues.push({ path, message: result.error, ...source.position(node.range?.[0] ?? 0) });
        return;
      }
      node.value = result.value;
      if (node.type === "PLAIN") retypable.add(pathKey(path));
    },
  });
  return { issues, retypable, failed };
}

/** Drops the issues validation found in values whose interpolation already failed. */
export function reportOnce(
  issues: readonly ConfigIssue[],
  interpolation: Interpolation,
): ConfigIssue[] {
  const own = new Set(interpolation.issues);
  return issues.filter((issue) => own.has(issue) || !interpolation.failed.has(pathKey(issue.path)));
}
