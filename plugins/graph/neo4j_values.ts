/**
 * Values between JSON and Neo4j. JS numbers that are safe integers go to Neo4j as 64-bit
 * integers (the driver would send them as floats), and Neo4j integers come back as JS numbers
 * when they fit in 2^53, as decimal strings when they do not.
 */
import neo4j, {
  type Integer,
  isDate,
  isDateTime,
  isDuration,
  isInt,
  isLocalDateTime,
  isLocalTime,
  isNode,
  isPath,
  isPoint,
  isRelationship,
  isTime,
  type Node,
  type Path,
  type Relationship,
} from "neo4j-driver";
import type {
  GraphEdge,
  GraphNode,
  GraphPath,
  NodeRef,
  Properties,
  PropertyValue,
} from "./driver.ts";

/** A node's properties as they are sent to Neo4j: the caller's plus `id`. */
export function toNeo4jProperties(properties: Properties, id?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) out[key] = toNeo4jProperty(value);
  if (id !== undefined) out.id = id;
  return out;
}

/** One property: a number array is stored as integers only when every element is one. */
function toNeo4jProperty(value: PropertyValue): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? neo4j.int(value) : value;
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === "number") {
    const numbers = value as readonly number[];
    return numbers.every(Number.isSafeInteger) ? numbers.map((n) => neo4j.int(n)) : [...numbers];
  }
  return value;
}

/** Query parameters from JSON (Cypher endpoint): safe integers become Neo4j integers, deeply. */
export function toNeo4jParameter(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? neo4j.int(value) : value;
  if (Array.isArray(value)) return value.map(toNeo4jParameter);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toNeo4jParameter(item);
    return out;
  }
  return value;
}

/** A JSON-safe copy of anything Neo4j returns (integers, temporals, points, graph entities). */
export function fromNeo4j(value: unknown): unknown {
  const type = typeof value;
  // The common case first: a traversal converts thousands of these per answer.
  if (type === "string" || type === "number" || type === "boolean") return value;
  if (value === null || value === undefined) return null;
  if (isInt(value)) return integer(value);
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (Array.isArray(value)) return value.map(fromNeo4j);
  if (isNode(value)) {
    return {
      labels: value.labels,
      properties: fromNeo4j(value.properties),
    };
  }
  if (isRelationship(value)) return { type: value.type, properties: fromNeo4j(value.properties) };
  if (isPath(value)) {
    return {
      nodes: [value.start, ...value.segments.map((s) => s.end)].map(fromNeo4j),
      relationships: value.segments.map((s) => fromNeo4j(s.relationship)),
    };
  }
  if (
    isDate(value) || isDateTime(value) || isLocalDateTime(value) || isLocalTime(value) ||
    isTime(value) || isDuration(value) || isPoint(value)
  ) {
    return String(value);
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = fromNeo4j(item);
    return out;
  }
  return value;
}

/** A Neo4j integer as a JS number when safe, otherwise its decimal string. */
export function integer(value: Integer): number | string {
  return value.inSafeRange() ? value.toNumber() : value.toString();
}

/** The node's key: its first label and its `id` (the element id when it has none). */
export function refOf(node: Node): NodeRef {
  const id = node.properties.id;
  return { label: node.labels[0] ?? "", id: typeof id === "string" ? id : node.elementId };
}

/** A stored node as the API returns it (its `id` property becomes its key). */
export function nodeFromNeo4j(node: Node): GraphNode {
  const properties: Record<string, unknown> = {};
  for (const key in node.properties) {
    if (key !== "id") properties[key] = fromNeo4j(node.properties[key]);
  }
  return { ...refOf(node), properties: properties as Properties };
}

/** A path with each relationship in its stored direction. */
export function pathFromNeo4j(path: Path): GraphPath {
  const nodes = [path.start, ...path.segments.map((segment) => segment.end)];
  const byElementId = new Map(nodes.map((node) => [node.elementId, node]));
  return {
    nodes: nodes.map(nodeFromNeo4j),
    relationships: path.segments.map((segment) => edgeFromNeo4j(segment.relationship, byElementId)),
  };
}

function edgeFromNeo4j(relationship: Relationship, nodes: Map<string, Node>): GraphEdge {
  return {
    from: refOf(nodes.get(relationship.startNodeElementId)!),
    type: relationship.type,
    to: refOf(nodes.get(relationship.endNodeElementId)!),
    properties: fromNeo4j(relationship.properties) as Properties,
  };
}
