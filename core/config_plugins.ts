/**
 * Reads the `plugins:` blocks: splits each into the fields every plugin shares and the plugin's
 * own, validates the shared ones, resolves the type in the registry, then validates the rest
 * against that plugin's schema.
 */
import type { ConfigIssue } from "./config_error.ts";
import { PluginCommonConfig, pluginCommonKeys } from "./config_schema.ts";
import type { Locate } from "./config_source.ts";
import { isRecord, type ValidateSection } from "./config_validation.ts";
import type { PluginRegistry } from "./plugin.ts";
import { closest } from "./suggest.ts";

/** One enabled or disabled plugin instance from the config. */
export interface PluginInstanceConfig extends PluginCommonConfig {
  /** Instance name. */
  name: string;
  /** Plugin type (defaults to the name). */
  type: string;
  /** The plugin's own fields, validated by its schema. */
  config: unknown;
}

/** An instance whose type the registry knows, even if its own fields are invalid. */
export interface KnownInstance {
  name: string;
  type: string;
  enabled: boolean;
  required: boolean;
}

/** What reading the plugin blocks found. */
export interface PluginBlocks {
  /** The valid instances, in file order. */
  plugins: PluginInstanceConfig[];
  /** Every instance of a known type, in file order, for the dependency checks. */
  known: KnownInstance[];
  /** The problems, block by block. */
  issues: ConfigIssue[];
}

/** Options of {@linkcode readPluginBlocks}. */
export interface ReadPluginBlocksOptions {
  registry: PluginRegistry;
  validate: ValidateSection;
  locate: Locate;
}

/** Validates each block under `plugins:` of the config's plain `data`. */
export function readPluginBlocks(data: unknown, options: ReadPluginBlocksOptions): PluginBlocks {
  const result: PluginBlocks = { plugins: [], known: [], issues: [] };
  const rawPlugins = isRecord(data) && isRecord(data.plugins) ? data.plugins : {};
  for (const [name, rawBlock] of Object.entries(rawPlugins)) {
    readPluginBlock(name, { ...options, block: rawBlock, into: result });
  }
  return result;
}

interface ReadPluginBlockOptions extends ReadPluginBlocksOptions {
  block: unknown;
  into: PluginBlocks;
}

function readPluginBlock(name: string, options: ReadPluginBlockOptions): void {
  const { registry, validate, locate, into } = options;
  const { common, own } = splitBlock(options.block);
  const prefix = ["plugins", name];
  const commonResult = validate(PluginCommonConfig, common, { prefix });
  if (!commonResult.success) {
    into.issues.push(...commonResult.issues);
    return;
  }
  const shared = commonResult.data;
  const type = shared.type ?? name;
  const definition = registry.get(type);
  if (!definition) {
    into.issues.push(
      unknownType(type, { prefix, named: shared.type !== undefined, registry, locate }),
    );
    return;
  }
  into.known.push({ name, type, enabled: shared.enabled, required: shared.required });
  const ownResult = validate(definition.config, own, { prefix, extraKeys: pluginCommonKeys });
  if (!ownResult.success) {
    into.issues.push(...ownResult.issues);
    return;
  }
  into.plugins.push({ ...shared, name, type, config: ownResult.data });
}

/** The fields every plugin shares (`type`, `enabled`, ...) apart from the plugin's own. */
function splitBlock(
  block: unknown,
): { common: Record<string, unknown>; own: Record<string, unknown> } {
  const common: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(isRecord(block) ? block : {})) {
    (pluginCommonKeys.includes(key) ? common : own)[key] = value;
  }
  return { common, own };
}

interface UnknownTypeOptions {
  prefix: string[];
  /** Whether the block names its type (`type: x`) rather than taking its instance name. */
  named: boolean;
  registry: PluginRegistry;
  locate: Locate;
}

function unknownType(type: string, options: UnknownTypeOptions): ConfigIssue {
  const { prefix, named, registry, locate } = options;
  const hint = closest(type, registry.keys());
  const known = [...registry.keys()].map((t) => `"${t}"`).join(", ");
  const path = named ? [...prefix, "type"] : prefix;
  return {
    path,
    message: `Unknown plugin type "${type}"${
      hint ? `; did you mean "${hint}"?` : ""
    } (known: ${known})`,
    ...locate(path, !named),
  };
}
