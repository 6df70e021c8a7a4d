/**
 * JSON Schema (Draft 2020-12) of the whole config file and of each plugin block, generated from
 * the zod schemas, so editors complete and check `edgebox.yaml` (`config/edgebox.schema.json`).
 *
 * It describes the file as written, before `${ENV}` substitution: wherever a typed value goes
 * (a number, a boolean, a duration, an enum), a string holding a `${...}` reference is accepted
 * too, as the loader accepts `port: ${PORT:-8080}`. `tests/core/config_schema_files_test.ts`
 * validates every config in the repository against it with a real validator.
 */
import { z } from "zod";
import {
  AuthConfig,
  INSTANCE_NAME,
  LogConfig,
  PluginCommonConfig,
  ServerConfig,
} from "./config_schema.ts";
import type { PluginDefinition, PluginRegistry } from "./plugin.ts";

type JsonSchema = Record<string, unknown>;

/** A value still holding an `${ENV}` reference, substituted (and then checked) at load. */
const INTERPOLATED_DEF: JsonSchema = Object.freeze({
  type: "string",
  pattern: "\\$\\{",
  description: "An ${ENV} reference, substituted when the config is loaded",
});

/** Where typed values point for {@linkcode INTERPOLATED_DEF}; every generated root defines it. */
const INTERPOLATED: JsonSchema = Object.freeze({ $ref: "#/$defs/interpolated" });

/** The `format` values Draft 2020-12 defines; zod also emits its own (`starts_with`). */
const STANDARD_FORMATS = new Set([
  "date-time",
  "date",
  "time",
  "duration",
  "email",
  "idn-email",
  "hostname",
  "idn-hostname",
  "ipv4",
  "ipv6",
  "uri",
  "uri-reference",
  "iri",
  "iri-reference",
  "uuid",
  "uri-template",
  "json-pointer",
  "relative-json-pointer",
  "regex",
]);

/** Keywords that describe a value rather than constrain it; they stay on a wrapper. */
const ANNOTATIONS = ["title", "description", "default", "examples", "deprecated"];

/** zod's JSON Schema of the input side of `schema`, as zod writes it. */
function rawJson(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  delete json.$schema;
  return json;
}

function toJson(schema: z.ZodType): JsonSchema {
  return forFiles(rawJson(schema));
}

/**
 * A string schema that any `${...}` reference already meets: no pattern, format, choices or
 * length bound that the reference's own text could fail (`${A}` is 4 characters).
 */
function isPlainString(node: JsonSchema): boolean {
  return node.type === "string" && !("pattern" in node) && !("format" in node) &&
    !("enum" in node) && !("const" in node) && !("maxLength" in node) &&
    ((node.minLength as number | undefined) ?? 0) <= 4;
}

/** A schema of one scalar value: no properties, items or alternatives of its own. */
function isScalar(node: JsonSchema): boolean {
  if ("properties" in node || "items" in node || "anyOf" in node || "oneOf" in node) return false;
  if ("const" in node || "enum" in node) return true;
  return ["string", "number", "integer", "boolean"].includes(node.type as string);
}

/**
 * Rewrites zod's output for files as written: standard formats only, `anyOf` for `oneOf` (an
 * interpolated value may match several branches), and `${...}` accepted for typed scalars (once
 * per value: a union of scalars gets one more branch rather than each branch its own).
 */
function forFiles(node: JsonSchema, interpolable = true): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "format" && !STANDARD_FORMATS.has(value as string)) continue;
    if (Array.isArray(value) && (key === "anyOf" || key === "oneOf" || key === "allOf")) {
      const items = value as JsonSchema[];
      const scalars = key !== "allOf" && items.every(isScalar);
      const rewritten = items.map((item) => forFiles(item, !scalars));
      if (scalars && !rewritten.some(isPlainString)) rewritten.push(INTERPOLATED);
      out[key === "oneOf" ? "anyOf" : key] = rewritten;
    } else if (key === "properties" || key === "$defs") {
      out[key] = Object.fromEntries(
        Object.entries(value as JsonSchema).map(([name, sub]) => [
          name,
          forFiles(sub as JsonSchema),
        ]),
      );
    } else if (
      (key === "items" || key === "additionalProperties") && typeof value === "object" &&
      value !== null
    ) {
      out[key] = forFiles(value as JsonSchema);
    } else out[key] = value;
  }
  if (!interpolable || !isScalar(out) || isPlainString(out)) return out;
  const wrapper: JsonSchema = {};
  const value: JsonSchema = {};
  for (const [key, item] of Object.entries(out)) {
    (ANNOTATIONS.includes(key) ? wrapper : value)[key] = item;
  }
  return { ...wrapper, anyOf: [value, INTERPOLATED] };
}

/** The backends a plugin type offers (the literals of its `backend` discriminator). */
export function backendsOf(definition: PluginDefinition): string[] {
  const json = rawJson(definition.config);
  const options = (json.oneOf ?? json.anyOf ?? [json]) as JsonSchema[];
  return options
    .map((
      option,
    ) => ((option.properties as Record<string, JsonSchema> | undefined)?.backend?.const))
    .filter((value): value is string => typeof value === "string");
}

/** JSON Schema of one plugin block: the common fields plus the plugin's own. */
export function pluginBlockSchema(definition: PluginDefinition, requireType = false): JsonSchema {
  const common = rawJson(PluginCommonConfig);
  const own = rawJson(definition.config);
  const options = (own.oneOf ?? own.anyOf ?? [own]) as JsonSchema[];
  const commonProperties = {
    ...(common.properties as JsonSchema),
    type: { const: definition.type },
  };
  const merged: JsonSchema[] = options.map((option) =>
    forFiles({
      ...option,
      properties: { ...commonProperties, ...(option.properties as JsonSchema) },
      required: [
        ...((option.required as string[] | undefined) ?? []),
        ...(requireType ? ["type"] : []),
      ],
    })
  );
  // A block left empty (`observability:`) is read as `{}`: accept it where `{}` is valid.
  if (!requireType && definition.config.safeParse({}).success) merged.push({ type: "null" });
  const block = merged.length === 1 ? merged[0]! : { anyOf: merged };
  return { ...block, $defs: { interpolated: INTERPOLATED_DEF } };
}

/** JSON Schema of a whole config file for the given plugin types. */
export function configJsonSchema(registry: PluginRegistry): JsonSchema {
  const byName: Record<string, JsonSchema> = {};
  for (const definition of registry.values()) {
    byName[definition.type] = embedded(definition, false);
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "edgebox config",
    type: "object",
    additionalProperties: false,
    $defs: { interpolated: INTERPOLATED_DEF },
    properties: {
      server: toJson(ServerConfig),
      auth: toJson(AuthConfig),
      log: toJson(LogConfig),
      plugins: {
        type: "object",
        description: "Instance name -> plugin block; `type` defaults to the instance name",
        propertyNames: { pattern: INSTANCE_NAME.source },
        properties: byName,
        additionalProperties: {
          anyOf: [...registry.values()].map((definition) => embedded(definition, true)),
        },
      },
    },
  };
}

/** A plugin block inside the whole file's schema, which defines `$defs` once at its root. */
function embedded(definition: PluginDefinition, requireType: boolean): JsonSchema {
  const { $defs: _defs, ...block } = pluginBlockSchema(definition, requireType);
  return block;
}
