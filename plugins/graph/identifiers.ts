/**
 * Labels, relationship types, property keys and node ids: what they may look like. Labels and
 * types cannot be Cypher parameters, so they are interpolated into queries; everything here is
 * what makes that safe, and every driver calls it before building a query.
 */
import type { EdgeboxError } from "../../core/errors.ts";
import type { NodeId, NodeRef, RefView } from "./driver.ts";
import { graphError } from "./errors.ts";

/** A label, relationship type or property key: a letter, then up to 63 letters, digits or `_`. */
export const IDENTIFIER: RegExp = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A node id: printable ASCII without spaces, quotes, slashes or backslashes. */
export const NODE_ID: RegExp = /^[A-Za-z0-9._:@~+=-]+$/;

/** Throws `graph.label_invalid` or `graph.label_not_allowed` unless `label` may be used. */
export function assertLabel(
  label: string,
  allowed: readonly string[] | undefined,
  field?: string,
): void {
  const problem = labelProblem(label, allowed, field);
  if (problem) throw problem;
}

/** Throws `graph.type_invalid` or `graph.type_not_allowed` unless `type` may be used. */
export function assertType(
  type: string,
  allowed: readonly string[] | undefined,
  field?: string,
): void {
  const where = field === undefined ? {} : { field };
  if (!IDENTIFIER.test(type)) {
    throw graphError("graph.type_invalid", {
      detail: `Relationship type "${
        clip(type)
      }" must match ${IDENTIFIER.source} (a letter, then letters, digits or _)`,
      ...where,
    });
  }
  if (allowed && !allowed.includes(type)) {
    throw graphError("graph.type_not_allowed", {
      detail: `Relationship type "${type}" is not allowed; allowed: ${allowed.join(", ")}`,
      ...where,
    });
  }
}

/** The problem with a label, or `undefined` when it may be used. */
export function labelProblem(
  label: string,
  allowed: readonly string[] | undefined,
  field?: string,
): EdgeboxError | undefined {
  const where = field === undefined ? {} : { field };
  if (!IDENTIFIER.test(label)) {
    return graphError("graph.label_invalid", {
      detail: `Label "${
        clip(label)
      }" must match ${IDENTIFIER.source} (a letter, then letters, digits or _)`,
      ...where,
    });
  }
  if (allowed && !allowed.includes(label)) {
    return graphError("graph.label_not_allowed", {
      detail: `Label "${label}" is not allowed; allowed: ${allowed.join(", ")}`,
      ...where,
    });
  }
  return undefined;
}

/** A node's key in maps, orderings and messages: `label:id` (an integer id in decimal). */
export function nodeKey(ref: NodeRef | RefView): string {
  return `${ref.label}:${idText(ref.id)}`;
}

/** The text that addresses a node with this id in a path or a `Label:id`. */
export function idText(id: NodeId): string {
  return typeof id === "object" ? id.$int : String(id);
}

/** A relationship's key in maps: `label:id|TYPE|label:id`. */
export function edgeKeyOf(from: NodeRef, type: string, to: NodeRef): string {
  return `${nodeKey(from)}|${type}|${nodeKey(to)}`;
}

/** Orders nodes by label, then id text (code unit order, as Cypher orders ASCII strings). */
export function compareRefs(a: NodeRef | RefView, b: NodeRef | RefView): number {
  if (a.label !== b.label) return a.label < b.label ? -1 : 1;
  const x = idText(a.id);
  const y = idText(b.id);
  if (x !== y) return x < y ? -1 : 1;
  return 0;
}

/** Rotates a closed cycle so its smallest node (by label, then id) comes first: one spelling each. */
export function canonicalCycle<T extends NodeRef | RefView>(cycle: readonly T[]): T[] {
  const open = cycle.slice(0, -1);
  let start = 0;
  for (let i = 1; i < open.length; i++) {
    if (compareRefs(open[i]!, open[start]!) < 0) start = i;
  }
  const rotated = [...open.slice(start), ...open.slice(0, start)];
  return [...rotated, rotated[0]!];
}

/**
 * What a `where[prop]=text` filter matches: the string itself, and the number or boolean it
 * spells, since a query string cannot say which type it means.
 */
export function filterCandidates(text: string): (string | number | boolean)[] {
  const candidates: (string | number | boolean)[] = [text];
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) {
    const number = Number(text);
    if (Number.isFinite(number)) candidates.push(number);
  }
  if (text === "true") candidates.push(true);
  if (text === "false") candidates.push(false);
  return candidates;
}

/** Shortens user input quoted in messages. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
