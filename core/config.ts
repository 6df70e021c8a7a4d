/**
 * Reads edgebox's YAML config: parse (keeping positions), interpolate `${ENV}` references,
 * validate the core sections and each plugin block against its plugin's schema, and check
 * plugin dependencies. Every problem is reported at once, each with its `file:line:col`.
 */
import { byPosition, ConfigError } from "./config_error.ts";
import {
  checkDependencyPlan,
  checkRateLimitStore,
  checkRequiredOnOptional,
} from "./config_dependencies.ts";
import { interpolateSource, reportOnce } from "./config_interpolation.ts";
import { type PluginInstanceConfig, readPluginBlocks } from "./config_plugins.ts";
import { type AuthConfig, type LogConfig, RootConfig, type ServerConfig } from "./config_schema.ts";
import { parseSource } from "./config_source.ts";
import { sectionValidator } from "./config_validation.ts";
import type { PluginRegistry } from "./plugin.ts";

export { ConfigError, type ConfigIssue, formatIssue } from "./config_error.ts";
export type { PluginInstanceConfig } from "./config_plugins.ts";

/** A validated config. */
export interface EdgeboxConfig {
  server: ServerConfig;
  auth: AuthConfig;
  log: LogConfig;
  /** Every instance in file order, including disabled ones. */
  plugins: PluginInstanceConfig[];
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** Name used in messages (a path, or `<embedded>`). */
  file: string;
  /** The plugin types that blocks may use. */
  registry: PluginRegistry;
  /** Environment lookup for `${VAR}`; `Deno.env.get` by default. */
  env?: (name: string) => string | undefined;
}

/** Parses and validates config text; throws {@linkcode ConfigError} listing every problem. */
export function parseConfig(text: string, options: ParseConfigOptions): EdgeboxConfig {
  const { file, registry } = options;
  const parsed = parseSource(text);
  if (!parsed.ok) throw new ConfigError(file, parsed.issues);
  const { source } = parsed;
  const { locate } = source;

  const interpolation = interpolateSource(source, options.env ?? ((name) => Deno.env.get(name)));
  const validate = sectionValidator({ retypable: interpolation.retypable, locate });
  const data: unknown = source.document.toJS() ?? {};
  const root = validate(RootConfig, data, { prefix: [] });
  const blocks = readPluginBlocks(data, { registry, validate, locate });
  const store = root.success ? root.data.server.rateLimit?.store : undefined;

  const issues = reportOnce([
    ...interpolation.issues,
    ...(root.success ? [] : root.issues),
    ...blocks.issues,
    ...checkRateLimitStore(store, { known: blocks.known, locate }),
    ...checkRequiredOnOptional(blocks.known, { registry, locate }),
    ...checkDependencyPlan(blocks.known, { registry, locate }),
  ], interpolation);
  if (issues.length || !root.success) throw new ConfigError(file, byPosition(issues));
  const { server, auth, log } = root.data;
  return { server, auth, log, plugins: blocks.plugins };
}

/** Reads a config file from disk and parses it. */
export async function loadConfigFile(
  file: string,
  options: Omit<ParseConfigOptions, "file">,
): Promise<EdgeboxConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new ConfigError(file, [{
      path: [],
      message: `Cannot read config file: ${reason}`,
      line: 1,
      col: 1,
    }]);
  }
  return parseConfig(text, { ...options, file });
}
