/**
 * JSON Schema of the whole config file and of each plugin block, generated from the zod
 * schemas, so editors complete and check `edgebox.yaml` (`config/edgebox.schema.json`).
 */
import { z } from "zod";
import { AuthConfig, LogConfig, PluginCommonConfig, ServerConfig } from "./config_schema.ts";
import type { PluginDefinition, PluginRegistry } from "./plugin.ts";

type JsonSchema = Record<string, unknown>;

function toJson(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** The backends a plugin type offers (the literals of its `backend` discriminator). */
export function backendsOf(definition: PluginDefinition): string[] {
  const json = toJson(definition.config);
  const options = (json.oneOf ?? json.anyOf ?? [json]) as JsonSchema[];
  return options
    .map((
      option,
    ) => ((option.properties as Record<string, JsonSchema> | undefined)?.backend?.const))
    .filter((value): value is string => typeof value === "string");
}

/** JSON Schema of one plugin block: the common fields plus the plugin's own. */
export function pluginBlockSchema(definition: PluginDefinition, requireType = false): JsonSchema {
  const common = toJson(PluginCommonConfig);
  const own = toJson(definition.config);
  const options = (own.oneOf ?? own.anyOf ?? [own]) as JsonSchema[];
  const commonProperties = {
    ...(common.properties as JsonSchema),
    type: { const: definition.type },
  };
  const merged = options.map((option) => ({
    ...option,
    properties: { ...commonProperties, ...(option.properties as JsonSchema) },
    required: [
      ...((option.required as string[] | undefined) ?? []),
      ...(requireType ? ["type"] : []),
    ],
  }));
  return merged.length === 1 ? merged[0]! : { oneOf: merged };
}

/** JSON Schema of a whole config file for the given plugin types. */
export function configJsonSchema(registry: PluginRegistry): JsonSchema {
  const byName: Record<string, JsonSchema> = {};
  for (const definition of registry.values()) {
    byName[definition.type] = pluginBlockSchema(definition);
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "edgebox config",
    type: "object",
    additionalProperties: false,
    properties: {
      server: toJson(ServerConfig),
      auth: toJson(AuthConfig),
      log: toJson(LogConfig),
      plugins: {
        type: "object",
        description: "Instance name -> plugin block; `type` defaults to the instance name",
        properties: byName,
        additionalProperties: {
          anyOf: [...registry.values()].map((definition) => pluginBlockSchema(definition, true)),
        },
      },
    },
  };
}
