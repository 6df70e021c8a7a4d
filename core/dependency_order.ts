/**
 * Orders plugin instances so every instance starts after the instances it depends on, and
 * finds what makes that impossible (a missing dependency or a cycle) before anything starts.
 */

import { type PluginRegistry, type Requirement, requirementName } from "./plugin.ts";

/** An instance and the plugin types it requires. */
export interface DependencyNode {
  name: string;
  type: string;
  requires: readonly string[];
}

/** A dependency that cannot be satisfied. */
export type DependencyProblem =
  | { kind: "missing"; instance: string; requires: string }
  | { kind: "cycle"; cycle: string[] };

/** Start order (dependencies first) or the problems that prevent one. */
export type DependencyPlan =
  | { ok: true; order: string[] }
  | { ok: false; problems: DependencyProblem[] };

/**
 * Topologically sorts instances; an instance depends on every enabled instance of each type it
 * requires. Ties keep config order, so the result is stable and predictable.
 */
export function planDependencies(nodes: readonly DependencyNode[]): DependencyPlan {
  const byType = new Map<string, string[]>();
  for (const node of nodes) byType.set(node.type, [...(byType.get(node.type) ?? []), node.name]);

  const problems: DependencyProblem[] = [];
  const edges = new Map<string, string[]>();
  for (const node of nodes) {
    const deps: string[] = [];
    for (const type of node.requires) {
      if (type === node.type) continue; // instances of one type do not wait for each other
      const providers = byType.get(type);
      if (!providers) problems.push({ kind: "missing", instance: node.name, requires: type });
      else deps.push(...providers.filter((name) => name !== node.name));
    }
    edges.set(node.name, deps);
  }

  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): void => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      if (!problems.some((p) => p.kind === "cycle" && sameCycle(p.cycle, cycle))) {
        problems.push({ kind: "cycle", cycle });
      }
      return;
    }
    state.set(name, "visiting");
    stack.push(name);
    for (const dep of edges.get(name) ?? []) visit(dep);
    stack.pop();
    state.set(name, "done");
    order.push(name);
  };
  for (const node of nodes) visit(node.name);

  return problems.length ? { ok: false, problems } : { ok: true, order };
}

function sameCycle(a: string[], b: string[]): boolean {
  return a.length === b.length && new Set(a).size === new Set([...a, ...b]).size;
}

/** One readable sentence per problem. */
export function describeDependencyProblem(problem: DependencyProblem): string {
  if (problem.kind === "missing" && problem.requires.startsWith("capability ")) {
    return `Plugin "${problem.instance}" requires ${problem.requires}, and no enabled plugin provides it`;
  }
  return problem.kind === "missing"
    ? `Plugin "${problem.instance}" requires a plugin of type "${problem.requires}", and none is enabled`
    : `Plugins depend on each other in a cycle: ${problem.cycle.join(" -> ")}`;
}

/**
 * The plugin types a plugin's requirements name: types as they are, a capability as the types of
 * the enabled instances that provide it (or its name, which the plan then reports as missing).
 */
export function requiredTypes(
  requires: readonly Requirement[],
  enabled: readonly { type: string }[],
  registry: PluginRegistry,
): string[] {
  return requires.flatMap((requirement) => {
    if (typeof requirement === "string") return [requirement];
    const providers = enabled.filter((p) =>
      registry.get(p.type)?.provides?.some((provision) => provision.capability === requirement)
    ).map((p) => p.type);
    return providers.length > 0 ? [...new Set(providers)] : [requirementName(requirement)];
  });
}
