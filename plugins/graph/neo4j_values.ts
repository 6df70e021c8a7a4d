/**
 * Values between JSON and Neo4j, and how nodes are addressed. JS numbers that are safe integers
 * go to Neo4j as 64-bit integers (the driver would send them as floats), other numbers as
 * floats, typed values (`typed_values.ts`) as the driver's types; on the way back every value
 * JSON cannot carry exactly comes back typed: integers past 2^53 as `$int`, integral or
 * non-finite floats as `$float`, temporal values, points and byte arrays in their own kinds.
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
  NodeId,
  NodeRef,
  Properties,
  PropertyValue,
  RefView,
  ScalarValue,
} from "./driver.ts";
import { graphError } from "./errors.ts";
import { NODE_ID } from "./identifiers.ts";
import {
  bytesOf,
  bytesText,
  floatText,
  type IntValue,
  parseDate,
  parseDateTime,
  parseDuration,
  parseLocalDateTime,
  parseLocalTime,
  parseTime,
  type PointFields,
  type TypedKind,
  typedKind,
  typedProblem,
} from "./typed_values.ts";

/** A node's properties as they are sent to Neo4j: the caller's plus `id`. */
export function toNeo4jProperties(properties: Properties, id?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) out[key] = toNeo4jProperty(value);
  if (id !== undefined) out.id = id;
  return out;
}

/**
 * One property: a safe integer or `$int` becomes a Neo4j integer, any other number a float, a
 * typed value the driver's type. A list of numbers is integers when every element is one
 * (plain or `$int`), floats otherwise.
 */
export function toNeo4jProperty(value: PropertyValue): unknown {
  if (!Array.isArray(value)) return toNeo4jScalar(value as ScalarValue, "auto");
  const list = value as readonly ScalarValue[];
  const integers = list.every((item) => Number.isSafeInteger(item) || typedKind(item) === "$int");
  return list.map((item) => toNeo4jScalar(item, integers ? "auto" : "float"));
}

function toNeo4jScalar(value: ScalarValue, numbers: "auto" | "float"): unknown {
  if (typeof value === "number") {
    return numbers === "auto" && Number.isSafeInteger(value) ? neo4j.int(value) : value;
  }
  if (typeof value !== "object") return value;
  const kind = typedKind(value);
  const text = (value as Record<string, unknown>)[kind ?? ""];
  switch (kind) {
    case "$int":
      return neo4j.int(text as string);
    case "$float":
      return Number(text);
    case "$bytes":
      return new Int8Array(bytesOf(text as string).buffer);
    case "$point": {
      const p = text as PointFields;
      return new neo4j.types.Point(neo4j.int(p.srid), p.x, p.y, p.z);
    }
  }
  const temporal = kind === undefined ? undefined : toNeo4jTemporal(kind, text as string);
  if (temporal === undefined) {
    throw graphError("graph.backend_error", {
      detail: "A property value is not one the graph keeps",
    });
  }
  return temporal;
}

function toNeo4jTemporal(kind: TypedKind, text: string): unknown {
  const checked = <T>(parsed: T | string): T => {
    if (typeof parsed === "string") {
      throw graphError("graph.backend_error", { detail: `Invalid ${kind} "${text}": ${parsed}` });
    }
    return parsed;
  };
  switch (kind) {
    case "$date": {
      const d = checked(parseDate(text));
      return new neo4j.types.Date(d.year, d.month, d.day);
    }
    case "$localtime": {
      const t = checked(parseLocalTime(text));
      return new neo4j.types.LocalTime(t.hour, t.minute, t.second, t.nanosecond);
    }
    case "$time": {
      const t = checked(parseTime(text));
      return new neo4j.types.Time(t.hour, t.minute, t.second, t.nanosecond, t.offsetSeconds);
    }
    case "$localdatetime": {
      const t = checked(parseLocalDateTime(text));
      return new neo4j.types.LocalDateTime(
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.nanosecond,
      );
    }
    case "$datetime": {
      const t = checked(parseDateTime(text));
      return new neo4j.types.DateTime(
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.nanosecond,
        t.offsetSeconds,
        t.zone,
      );
    }
    case "$duration": {
      const d = checked(parseDuration(text));
      return new neo4j.types.Duration(
        neo4j.int(d.months.toString()),
        neo4j.int(d.days.toString()),
        neo4j.int(d.seconds.toString()),
        neo4j.int(d.nanoseconds.toString()),
      );
    }
  }
  return undefined;
}

/** Query parameters from JSON (Cypher endpoint): safe integers become Neo4j integers, deeply. */
export function toNeo4jParameter(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? neo4j.int(value) : value;
  if (Array.isArray(value)) return value.map(toNeo4jParameter);
  const kind = typedKind(value);
  if (kind) {
    // A typed value is one parameter of the driver's type, as in properties.
    const problem = typedProblem(kind, (value as Record<string, unknown>)[kind], {
      maxBytesLength: Number.MAX_SAFE_INTEGER,
    });
    if (problem) throw graphError("graph.cypher_invalid", { detail: problem, field: "params" });
    return toNeo4jScalar(value as ScalarValue, "auto");
  }
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
  if (type === "string" || type === "boolean") return value;
  if (type === "number") {
    // Numbers from the driver are floats (integers come as Integer): an integral one, -0, NaN
    // or an infinity would read back as an integer, or not at all, so it is a typed float.
    const text = floatText(value as number);
    return text === undefined ? value : { $float: text };
  }
  if (value === null || value === undefined) return null;
  if (isInt(value)) return integer(value);
  if (value instanceof Int8Array || value instanceof Uint8Array) {
    return { $bytes: bytesText(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
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
  if (isDate(value)) return { $date: String(value) };
  if (isDateTime(value)) return { $datetime: String(value) };
  if (isLocalDateTime(value)) return { $localdatetime: String(value) };
  if (isLocalTime(value)) return { $localtime: String(value) };
  if (isTime(value)) return { $time: String(value) };
  if (isDuration(value)) return { $duration: String(value) };
  if (isPoint(value)) {
    const point: Record<string, number> = { srid: Number(value.srid), x: value.x, y: value.y };
    if (value.z !== undefined && value.z !== null) point.z = value.z;
    return { $point: point };
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = fromNeo4j(item);
    return out;
  }
  return value;
}

/** A Neo4j integer as a JS number when safe, otherwise `{"$int": "<digits>"}`. */
export function integer(value: Integer): number | IntValue {
  return value.inSafeRange() ? value.toNumber() : { $int: value.toString() };
}

/**
 * A node's address: its `id` when it is a string edgebox can address (the node id pattern) or
 * an integer (its type kept), its elementId otherwise. `label` is the label it was reached by
 * (its first one when left out).
 */
export function refOf(node: Node, label?: string): RefView {
  return { label: label ?? node.labels[0] ?? "", id: addressOf(node) };
}

function addressOf(node: Node): NodeId {
  const id = node.properties.id;
  if (typeof id === "string" && NODE_ID.test(id) && id.length <= MAX_ID_TEXT) return id;
  if (isInt(id)) return integer(id);
  return node.elementId;
}

/** Whether the node's `id` property is its address (so it is not among its properties). */
function idIsAddress(node: Node): boolean {
  const id = node.properties.id;
  return isInt(id) || (typeof id === "string" && NODE_ID.test(id) && id.length <= MAX_ID_TEXT);
}

/** Longest string `id` used as an address (longer ones address by elementId). */
const MAX_ID_TEXT = 1_024;

/** A stored node as the API returns it (its `id` property becomes its address). */
export function nodeFromNeo4j(node: Node, label?: string): GraphNode {
  const properties: Record<string, unknown> = {};
  const skipId = idIsAddress(node);
  for (const key in node.properties) {
    if (key !== "id" || !skipId) properties[key] = fromNeo4j(node.properties[key]);
  }
  return { ...refOf(node, label), labels: node.labels, properties: properties as Properties };
}

/**
 * A request's address as query parameters: `id` (the text: a string id, or an elementId) and
 * `int` (the Neo4j integer it spells, or null), for {@linkcode matchRef}.
 */
export function refParam(ref: NodeRef): { id: string; int: Integer | null } {
  const int = /^-?(0|[1-9]\d{0,18})$/.test(ref.id) ? BigInt(ref.id) : undefined;
  const fits = int !== undefined && int >= -(2n ** 63n) && int < 2n ** 63n;
  return { id: ref.id, int: fits ? neo4j.int(ref.id) : null };
}

/**
 * Cypher binding `v` to the node an address parameter (`param`: `{id, int}`, see
 * {@linkcode refParam}) names under the (validated, quoted) label, or to null: the node whose
 * `id` is the string, else the one whose `id` is the integer it spells, else the one with that
 * elementId. The first is the index seek every edgebox-created node takes; the others run only
 * when it finds nothing, each an index or elementId seek.
 */
export function matchRef(v: string, label: string, param: string): string {
  return `OPTIONAL MATCH (${v}_:${label} {id: ${param}.id})
    WITH *, CASE WHEN ${v}_ IS NOT NULL THEN ${v}_
      WHEN ${param}.int IS NOT NULL THEN head(COLLECT { MATCH (${v}_i:${label} {id: ${param}.int}) RETURN ${v}_i })
      ELSE head(COLLECT { MATCH (${v}_e:${label}) WHERE elementId(${v}_e) = ${param}.id RETURN ${v}_e })
    END AS ${v}`;
}

/** A path with each relationship in its stored direction. */
export function pathFromNeo4j(path: Path, ends?: { from: string; to: string }): GraphPath {
  const nodes = [path.start, ...path.segments.map((segment) => segment.end)];
  const byElementId = new Map(nodes.map((node) => [node.elementId, node]));
  const last = nodes.length - 1;
  return {
    nodes: nodes.map((node, i) =>
      nodeFromNeo4j(node, i === 0 ? ends?.from : i === last ? ends?.to : undefined)
    ),
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
