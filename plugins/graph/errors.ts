/** The graph plugin's error table: every failure it reports, with a stable `graph.*` code. */
import { defineErrors, EdgeboxError } from "../../core/errors.ts";
import type { NodeRef, RefView } from "./driver.ts";

/** Codes the graph plugin answers with. */
export const graphErrors = {
  "graph.label_invalid": { status: 400, title: "Invalid node label" },
  "graph.label_not_allowed": { status: 400, title: "Node label not allowed" },
  "graph.type_invalid": { status: 400, title: "Invalid relationship type" },
  "graph.type_not_allowed": { status: 400, title: "Relationship type not allowed" },
  "graph.cursor_invalid": { status: 400, title: "Invalid listing cursor" },
  "graph.node_not_found": { status: 404, title: "Node not found" },
  "graph.edge_not_found": { status: 404, title: "Relationship not found" },
  "graph.path_not_found": { status: 404, title: "No path" },
  "graph.cycle_rejected": { status: 409, title: "Relationship would close a cycle" },
  "graph.conflict": { status: 409, title: "Conflicting write" },
  "graph.capacity_exceeded": { status: 507, title: "Graph is full" },
  "graph.cypher_disabled": { status: 403, title: "Cypher endpoint disabled" },
  "graph.cypher_invalid": { status: 400, title: "Invalid Cypher query" },
  "graph.cypher_write_rejected": { status: 400, title: "Cypher query is not read-only" },
  "graph.query_timeout": { status: 504, title: "Graph query timed out" },
  "graph.unavailable": { status: 503, title: "Graph backend unavailable" },
  "graph.backend_error": { status: 502, title: "Graph backend error" },
} as const;

/** A code from the graph table. */
export type GraphErrorCode = keyof typeof graphErrors;

/**
 * Creates an error from the graph table; `graphError.unavailable(detail, cause)` is the 503 with
 * `Retry-After` for a backend that cannot be reached right now.
 */
export const graphError = defineErrors(graphErrors);

/** The 409 for an edge that would close `cycle` (closed, starting at the edge's source). */
export function cycleRejected(
  edge: { from: NodeRef; type: string; to: NodeRef },
  cycle: readonly RefView[],
): EdgeboxError {
  const key = (ref: NodeRef | RefView) =>
    `${ref.label}:${typeof ref.id === "object" ? ref.id.$int : ref.id}`;
  return graphError("graph.cycle_rejected", {
    detail: `Relationship ${key(edge.from)} -[${edge.type}]-> ${
      key(edge.to)
    } would close the cycle ${cycle.map(key).join(" -> ")}`,
    extra: { cycle: cycle.map((ref) => ({ label: ref.label, id: ref.id })) },
  });
}

/**
 * The same error with its field under `prefix` (`from` becomes `items.3.from`, no field becomes
 * `items.3`), so a batch or a route can say where in the request the fault is; anything that is
 * not an {@linkcode EdgeboxError} passes through unchanged.
 */
export function atField(error: unknown, prefix: string): unknown {
  if (!(error instanceof EdgeboxError)) return error;
  return error.at(error.field === undefined ? prefix : `${prefix}.${error.field}`);
}
