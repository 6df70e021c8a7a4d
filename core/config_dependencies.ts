/**
 * Checks that relate the enabled instances to each other once each is valid on its own: the
 * rate-limit store names one of them, a required instance leans on no optional one, and every
 * dependency is present and acyclic.
 */
import type { ConfigIssue } from "./config_error.ts";
import type { KnownInstance } from "./config_plugins.ts";
import type { Locate } from "./config_source.ts";
import { describeDependencyProblem, planDependencies, requiredTypes } from "./dependency_order.ts";
import type { PluginRegistry } from "./plugin.ts";
import { closest } from "./suggest.ts";

/** Options of the dependency checks. */
export interface DependencyCheckOptions {
  registry: PluginRegistry;
  locate: Locate;
}

/** `server.rateLimit.store`, when set, must name an enabled instance. */
export function checkRateLimitStore(
  store: string | undefined,
  options: { known: readonly KnownInstance[]; locate: Locate },
): ConfigIssue[] {
  const { known, locate } = options;
  if (store === undefined || known.some((p) => p.enabled && p.name === store)) return [];
  const hint = closest(store, known.map((p) => p.name));
  return [{
    path: ["server", "rateLimit", "store"],
    message: `No enabled plugin instance is named "${store}"${
      hint ? `; did you mean "${hint}"?` : ""
    }`,
    ...locate(["server", "rateLimit", "store"]),
  }];
}

/** "Requires" means "must be ready first": a required instance cannot lean on an optional one. */
export function checkRequiredOnOptional(
  known: readonly KnownInstance[],
  options: DependencyCheckOptions,
): ConfigIssue[] {
  const { registry, locate } = options;
  const enabled = known.filter((p) => p.enabled);
  const issues: ConfigIssue[] = [];
  for (const instance of enabled.filter((p) => p.required)) {
    const requires = registry.get(instance.type)?.requires ?? [];
    for (const needed of requiredTypes(requires, enabled, registry)) {
      const optional = enabled.find((p) => !p.required && p.type === needed);
      if (!optional || needed === instance.type) continue;
      issues.push({
        path: ["plugins", instance.name],
        message:
          `Plugin "${instance.name}" is required but depends on "${optional.name}", which is optional (required: false)`,
        ...locate(["plugins", instance.name], true),
      });
    }
  }
  return issues;
}

/** Every enabled instance's dependencies are enabled, and none depends on itself in a cycle. */
export function checkDependencyPlan(
  known: readonly KnownInstance[],
  options: DependencyCheckOptions,
): ConfigIssue[] {
  const { registry, locate } = options;
  const enabled = known.filter((p) => p.enabled);
  const plan = planDependencies(enabled.map((p) => ({
    name: p.name,
    type: p.type,
    requires: requiredTypes(registry.get(p.type)?.requires ?? [], enabled, registry),
  })));
  if (plan.ok) return [];
  return plan.problems.map((problem) => {
    const at = problem.kind === "missing" ? problem.instance : problem.cycle[0]!;
    return {
      path: ["plugins", at],
      message: describeDependencyProblem(problem),
      ...locate(["plugins", at], true),
    };
  });
}
