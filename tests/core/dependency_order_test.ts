/** Start order of plugin instances, and the dependency problems that prevent one. */
import assert from "node:assert/strict";
import {
  type DependencyNode,
  type DependencyPlan,
  type DependencyProblem,
  describeDependencyProblem,
  planDependencies,
} from "../../core/dependency_order.ts";

function node(name: string, type: string, requires: string[] = []): DependencyNode {
  return { name, type, requires };
}

function orderOf(plan: DependencyPlan): string[] {
  assert.ok(plan.ok, `expected a plan, got ${plan.ok ? "" : JSON.stringify(plan.problems)}`);
  return plan.order;
}

function problemsOf(plan: DependencyPlan): DependencyProblem[] {
  assert.ok(!plan.ok, `expected problems, got the order ${plan.ok ? plan.order.join(", ") : ""}`);
  return plan.problems;
}

Deno.test("no instances give an empty order", () => {
  assert.deepEqual(orderOf(planDependencies([])), []);
});

Deno.test("instances without dependencies keep config order", () => {
  const plan = planDependencies([
    node("zeta", "cache"),
    node("alpha", "graph"),
    node("mid", "storage"),
  ]);
  assert.deepEqual(orderOf(plan), ["zeta", "alpha", "mid"]);
});

Deno.test("an instance starts after the instance of the type it requires", () => {
  const plan = planDependencies([node("api", "gateway", ["cache"]), node("cache", "cache")]);
  assert.deepEqual(orderOf(plan), ["cache", "api"]);
});

Deno.test("a chain of requirements starts from its far end", () => {
  const plan = planDependencies([
    node("a", "A", ["B"]),
    node("b", "B", ["C"]),
    node("c", "C"),
  ]);
  assert.deepEqual(orderOf(plan), ["c", "b", "a"]);
});

Deno.test("an instance that requires a type starts after every instance of that type", () => {
  const plan = planDependencies([
    node("api", "gateway", ["cache"]),
    node("sessions", "cache"),
    node("pages", "cache"),
  ]);
  assert.deepEqual(orderOf(plan), ["sessions", "pages", "api"]);
});

Deno.test("instances unrelated to each other keep their config order around dependencies", () => {
  const order = orderOf(planDependencies([
    node("first", "A", ["C"]),
    node("second", "B"),
    node("provider", "C"),
    node("third", "D"),
  ]));
  assert.ok(order.indexOf("provider") < order.indexOf("first"), order.join(", "));
  assert.ok(order.indexOf("first") < order.indexOf("second"), order.join(", "));
  assert.ok(order.indexOf("second") < order.indexOf("third"), order.join(", "));
  assert.equal(order.length, 4);
});

Deno.test("the same input always gives the same order", () => {
  const nodes = [node("x", "X", ["Y"]), node("y", "Y"), node("z", "Z", ["X"])];
  assert.deepEqual(orderOf(planDependencies(nodes)), orderOf(planDependencies(nodes)));
});

Deno.test("a required type that no instance provides is a missing dependency", () => {
  const problems = problemsOf(planDependencies([node("api", "gateway", ["cache"])]));
  assert.deepEqual(problems, [{ kind: "missing", instance: "api", requires: "cache" }]);
});

Deno.test("every missing requirement is reported, not only the first", () => {
  const problems = problemsOf(planDependencies([
    node("api", "gateway", ["cache", "graph"]),
    node("worker", "jobs", ["messaging"]),
  ]));
  assert.deepEqual(problems, [
    { kind: "missing", instance: "api", requires: "cache" },
    { kind: "missing", instance: "api", requires: "graph" },
    { kind: "missing", instance: "worker", requires: "messaging" },
  ]);
});

Deno.test("a cycle is reported with its instances in dependency order, closing on the first", () => {
  const problems = problemsOf(planDependencies([
    node("a", "A", ["B"]),
    node("b", "B", ["C"]),
    node("c", "C", ["A"]),
  ]));
  assert.deepEqual(problems, [{ kind: "cycle", cycle: ["a", "b", "c", "a"] }]);
});

Deno.test("a cycle starts at the instance that comes first in the config", () => {
  const problems = problemsOf(planDependencies([
    node("b", "B", ["A"]),
    node("a", "A", ["B"]),
  ]));
  assert.deepEqual(problems, [{ kind: "cycle", cycle: ["b", "a", "b"] }]);
});

Deno.test("a cycle is reported once, however many of its members are visited", () => {
  const problems = problemsOf(planDependencies([
    node("a", "A", ["B"]),
    node("b", "B", ["A"]),
    node("c", "C", ["A"]),
  ]));
  assert.equal(problems.filter((p) => p.kind === "cycle").length, 1);
});

Deno.test("a missing dependency and a cycle in one config are both reported", () => {
  const problems = problemsOf(planDependencies([
    node("a", "A", ["B", "Z"]),
    node("b", "B", ["A"]),
  ]));
  assert.deepEqual(problems, [
    { kind: "missing", instance: "a", requires: "Z" },
    { kind: "cycle", cycle: ["a", "b", "a"] },
  ]);
});

Deno.test("an instance requiring its own type does not depend on itself", () => {
  assert.deepEqual(orderOf(planDependencies([node("cache", "cache", ["cache"])])), ["cache"]);
});

Deno.test("describeDependencyProblem names the instance and the type it lacks", () => {
  const text = describeDependencyProblem({ kind: "missing", instance: "api", requires: "cache" });
  assert.match(text, /"api"/);
  assert.match(text, /"cache"/);
});

Deno.test("describeDependencyProblem spells a cycle out as a -> b -> a", () => {
  const text = describeDependencyProblem({ kind: "cycle", cycle: ["a", "b", "a"] });
  assert.match(text, /a -> b -> a/);
});
