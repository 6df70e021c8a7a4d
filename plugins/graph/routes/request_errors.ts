/** Errors the graph routes raise about a request: a missing node, a driver error's field placed. */
import { EdgeboxError } from "../../../core/errors.ts";
import { graphError } from "../errors.ts";

/** 404 `graph.node_not_found`, naming the request part that held the node. */
export function nodeNotFound(ref: { label: string; id: string }, field: string) {
  return graphError("graph.node_not_found", {
    detail: `Node ${ref.label}:${ref.id} does not exist`,
    field,
  });
}

/** Puts a driver error's field under the request part it came from (`from` -> `body.from`). */
export function inRequest(error: unknown, part: "body" | "query"): unknown {
  if (!(error instanceof EdgeboxError) || error.field === undefined) return error;
  return error.at(`${part}.${error.field}`);
}
