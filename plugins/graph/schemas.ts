/**
 * The zod schemas of the graph routes, built from the instance's limits and allowlists so the
 * OpenAPI document shows what is allowed and every bad label, type, id, key or depth is a 400
 * naming its field before a driver (or a query) sees it.
 */
import { z } from "@hono/zod-openapi";
import type { PropertyValue } from "./driver.ts";
import { IDENTIFIER, NODE_ID } from "./identifiers.ts";
import { valueProblem } from "./typed_values.ts";

/** What the routes let a request ask for. */
export interface GraphRouteLimits {
  readonly labels?: readonly string[] | undefined;
  readonly relationships?: readonly string[] | undefined;
  readonly maxDepth: number;
  readonly maxResults: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  readonly maxBatchSize: number;
  readonly maxIdLength: number;
  readonly maxProperties: number;
  readonly maxStringLength: number;
  readonly maxArrayLength: number;
  /** Longest Cypher query text, in characters. */
  readonly maxQueryLength: number;
}

/** Every schema the routes use. */
export type GraphSchemas = ReturnType<typeof graphSchemas>;

/** Builds the schemas for one instance. */
export function graphSchemas(limits: GraphRouteLimits) {
  const Label = allowlisted(limits.labels, "Labels").openapi({ example: "Feature" });
  const Type = allowlisted(limits.relationships, "Relationship types").openapi({
    example: "DEPENDS_ON",
  });
  const Id = z.string().min(1).max(limits.maxIdLength).regex(
    NODE_ID,
    "Ids are letters, digits and . _ : @ ~ + = -",
  ).openapi({ example: "login" });

  const text = z.string().max(limits.maxStringLength);
  const Value = z.unknown().superRefine((value, ctx) => {
    const problem = valueProblem(value, limits);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem.message, path: [...problem.path] });
    }
  }).transform((value) => value as PropertyValue).openapi({
    description: "A string, a boolean, a number (an integer within +-(2^53-1), or a float with " +
      'a fraction), a typed value (`{"$int": "9007199254740993"}`, `{"$float": "2"}`, ' +
      '`{"$date": "2026-12-05"}`, `{"$time": ...}`, `{"$localtime": ...}`, `{"$datetime": ...}`, ' +
      '`{"$localdatetime": ...}`, `{"$duration": "P1DT2H"}`, `{"$point": {"srid": 4326, "x": 2.35, ' +
      '"y": 48.85}}`, `{"$bytes": "<base64>"}`), or a list of values of one type',
    example: "Login",
  });
  const Key = z.string().regex(
    IDENTIFIER,
    "Property keys are a letter, then up to 63 letters, digits or _",
  );
  const properties = (reserved: readonly string[]) =>
    z.record(
      Key.refine((key) => !reserved.includes(key), {
        error: (issue) => `"${issue.input}" is reserved: it is the node's key, taken from the path`,
      }),
      Value,
    ).refine((props) => Object.keys(props).length <= limits.maxProperties, {
      error: `At most ${limits.maxProperties} properties`,
    });
  const NodeProperties = properties(["id"]).openapi("GraphProperties", {
    example: { title: "Login", points: 3, tags: ["auth"] },
  });
  const EdgeProperties = properties([]);

  /** A node in a body: its address text, or the integer `id` an answer gave (number or `$int`). */
  const RefId = z.union([
    Id,
    z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)
      .transform(String),
    z.strictObject({ $int: z.string().regex(/^-?[1-9]\d{0,18}$/) }).transform((v) => v.$int),
  ]);
  const Ref = z.strictObject({ label: Label, id: Id });
  const BodyRef = z.strictObject({ label: Label, id: RefId }).openapi("GraphNodeRef");
  const EdgeKey = z.strictObject({ from: BodyRef, type: Type, to: BodyRef });
  const EdgeBody = z.strictObject({
    from: BodyRef,
    type: Type,
    to: BodyRef,
    properties: EdgeProperties.optional(),
    /** Refuse the edge (409) when it would close a cycle of its type. */
    rejectCycle: z.boolean().optional(),
  }).openapi("GraphEdgeUpsert");

  /** `Label:id` in a query string. */
  const RefText = z.string().max(64 + 1 + limits.maxIdLength).transform((value, ctx) => {
    const colon = value.indexOf(":");
    const parsed = Ref.safeParse(
      colon < 0 ? { label: value, id: "" } : {
        label: value.slice(0, colon),
        id: value.slice(colon + 1),
      },
    );
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({
        code: "custom",
        message: `Expected Label:id; ${issue.path.join(".")}: ${issue.message}`,
      });
    }
    return z.NEVER;
  }).openapi({ type: "string", example: "Feature:login" });

  const Depth = (fallback: number) =>
    z.coerce.number().int().min(1).max(limits.maxDepth).default(fallback);
  const Direction = z.enum(["out", "in", "both"]).default("out");
  const Limit = (fallback: number, max: number) =>
    z.coerce.number().int().min(1).max(max).default(Math.min(fallback, max));

  return {
    Label,
    Type,
    Id,
    Ref,
    NodeProperties,
    EdgeKey,
    EdgeBody,
    NodePath: z.object({ label: Label, id: Id }),
    LabelPath: z.object({ label: Label }),
    /** `limit` and `cursor` (opaque, from the previous page); the rest are `where[key]` filters. */
    ListQuery: z.looseObject({
      limit: Limit(limits.defaultPageSize, limits.maxPageSize),
      cursor: z.string().optional().openapi({
        description: "The previous page's `cursor`; left out, the first page",
      }),
    }),
    /** A `where[key]` filter's key. */
    FilterKey: Key,
    FilterValue: text,
    NeighborsQuery: z.strictObject({
      type: Type.optional(),
      direction: Direction,
      depth: Depth(1),
      limit: Limit(limits.maxResults, limits.maxResults),
    }),
    PathQuery: z.strictObject({
      from: RefText,
      to: RefText,
      type: Type.optional(),
      direction: Direction,
      maxDepth: Depth(limits.maxDepth),
    }),
    CyclesQuery: z.strictObject({
      type: Type,
      maxLength: Depth(limits.maxDepth),
      limit: Limit(100, limits.maxResults),
    }),
    BatchBody: z.strictObject({
      items: z.array(z.discriminatedUnion("op", [
        z.strictObject({
          op: z.literal("node"),
          label: Label,
          id: Id,
          properties: NodeProperties.default({}),
        }),
        z.strictObject({
          op: z.literal("edge"),
          from: BodyRef,
          type: Type,
          to: BodyRef,
          properties: EdgeProperties.optional(),
          rejectCycle: z.boolean().optional(),
        }),
      ])).min(1).max(limits.maxBatchSize),
    }).openapi("GraphBatch"),
    CypherBody: z.strictObject({
      query: z.string().min(1).max(limits.maxQueryLength),
      params: z.record(z.string(), z.unknown()).default({}),
    }).openapi("GraphCypher"),
  };
}

/** A label or type: one of the allowlist when there is one, else the identifier pattern. */
function allowlisted(allowed: readonly string[] | undefined, what: string) {
  return allowed
    ? z.enum(allowed as [string, ...string[]], {
      error: (issue) =>
        `${what} are limited to ${allowed.join(", ")}; "${
          String(issue.input).slice(0, 64)
        }" is not one`,
    })
    : z.string().regex(
      IDENTIFIER,
      `${what} are a letter, then up to 63 letters, digits or _`,
    );
}

/** A node's address in answers: its string id, its integer id, or its elementId. */
export const NodeIdSchema = z.union([
  z.string(),
  z.number().int(),
  z.object({ $int: z.string() }),
]).openapi({
  description: "The node's `id` with its type kept (a string; an integer as a number, " +
    '`{"$int": "<digits>"}` past 2^53), or its elementId when it has neither. Address the node ' +
    "with this value's text",
});

/** Response shapes, for the OpenAPI document. */
export const GraphNodeSchema = z.object({
  label: z.string().openapi({ description: "The label the node was addressed or reached by" }),
  labels: z.array(z.string()).openapi({ description: "All of the node's labels" }),
  id: NodeIdSchema,
  properties: z.record(z.string(), z.unknown()),
}).openapi("GraphNode");

/** A relationship in responses. */
export const GraphEdgeSchema = z.object({
  from: z.object({ label: z.string(), id: NodeIdSchema }),
  type: z.string(),
  to: z.object({ label: z.string(), id: NodeIdSchema }),
  properties: z.record(z.string(), z.unknown()),
}).openapi("GraphEdge");
