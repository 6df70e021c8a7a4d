/**
 * Reads edgebox's YAML config: parse (keeping positions), interpolate `${ENV}` references,
 * validate the core sections and each plugin block against its plugin's schema, and check
 * plugin dependencies. Every problem is reported at once, each with its `file:line:col`.
 */
import YAML, { isMap, isPair, isScalar, isSeq, LineCounter, type Node } from "yaml";
import type { z } from "zod";
import { closest } from "./suggest.ts";
import { describeDependencyProblem, planDependencies, requiredTypes } from "./dependency_order.ts";
import { interpolate } from "./interpolate.ts";
import {
  type AuthConfig,
  type LogConfig,
  PluginCommonConfig,
  pluginCommonKeys,
  RootConfig,
  type ServerConfig,
} from "./config_schema.ts";
import type { PluginRegistry } from "./plugin.ts";

/** One enabled or disabled plugin instance from the config. */
export interface PluginInstanceConfig extends PluginCommonConfig {
  /** Instance name. */
  name: string;
  /** Plugin type (defaults to the name). */
  type: string;
  /** The plugin's own fields, validated by its schema. */
  config: unknown;
}

/** A validated config. */
export interface EdgeboxConfig {
  server: ServerConfig;
  auth: AuthConfig;
  log: LogConfig;
  /** Every instance in file order, including disabled ones. */
  plugins: PluginInstanceConfig[];
}

/** One problem found in a config file. */
export interface ConfigIssue {
  /** Path of the field at fault (`plugins.cache.url`); empty for syntax errors. */
  path: (string | number)[];
  message: string;
  line: number;
  col: number;
}

/** A config that cannot be used; `issues` holds every problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly file: string, readonly issues: ConfigIssue[]) {
    super(issues.map((issue) => formatIssue(file, issue)).join("\n"));
  }
}

/** `FILE:LINE:COL path.to.field: message`, the format editors and CI annotate. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const path = issue.path.length ? issue.path.join(".") : "(file)";
  return `${file}:${issue.line}:${issue.col} ${path}: ${issue.message}`;
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
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const issues: ConfigIssue[] = [];

  for (const error of doc.errors) {
    issues.push({ path: [], message: error.message.split("\n")[0]!, ...position(error.pos[0]) });
  }
  if (issues.length) throw new ConfigError(options.file, issues);

  const env = options.env ?? ((name: string) => Deno.env.get(name));
  // Unquoted values that came from the environment may become numbers or booleans where the
  // schema asks for one (`port: ${PORT}`); quoted ones always stay strings.
  const retypable = new Set<string>();
  // A value whose interpolation failed is reported once, not again by validation.
  const failed = new Set<string>();
  const interpolationIssues = new Set<ConfigIssue>();
  YAML.visit(doc, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("$")) return;
      const result = interpolate(node.value, env);
      const path = pathOf(doc.contents, node);
      if (!result.ok) {
        failed.add(path.join("\0"));
        const issue = { path, message: result.error, ...position(node.range?.[0] ?? 0) };
        interpolationIssues.add(issue);
        issues.push(issue);
        return;
      }
      node.value = result.value;
      if (node.type === "PLAIN") retypable.add(path.join("\0"));
    },
  });
  const validate = <S extends z.ZodType>(
    schema: S,
    value: unknown,
    prefix: (string | number)[],
  ) => {
    let result = schema.safeParse(value);
    for (let round = 0; round < 3 && !result.success; round++) {
      let changed = false;
      for (const issue of result.error.issues) {
        const key = [...prefix, ...issue.path.map(String)].join("\0");
        if (issue.code !== "invalid_type" || !retypable.has(key)) continue;
        const current = valueAt(value, issue.path);
        const typed = typeof current === "string" ? retype(current) : current;
        if (typed !== current) changed = setAt(value, issue.path, typed);
      }
      if (!changed) break;
      result = schema.safeParse(value);
    }
    return result;
  };

  const locate = (path: readonly (string | number)[], atKey = false) =>
    position(offsetOf(doc.contents, path, atKey));
  const data = doc.toJS() ?? {};
  const root = validate(RootConfig, data, []);
  if (!root.success) {
    issues.push(...zodIssues(root.error.issues, [], RootConfig, data, locate));
  }

  const plugins: PluginInstanceConfig[] = [];
  const typed: { name: string; type: string; enabled: boolean; required: boolean }[] = [];
  const rawPlugins = isRecord(data) && isRecord(data.plugins) ? data.plugins : {};
  for (const [name, rawBlock] of Object.entries(rawPlugins)) {
    const block = isRecord(rawBlock) ? rawBlock : {};
    const common: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(block)) {
      (pluginCommonKeys.includes(key) ? common : own)[key] = value;
    }
    const prefix = ["plugins", name];
    const commonResult = validate(PluginCommonConfig, common, prefix);
    if (!commonResult.success) {
      issues.push(
        ...zodIssues(commonResult.error.issues, prefix, PluginCommonConfig, common, locate),
      );
      continue;
    }
    const type = commonResult.data.type ?? name;
    const definition = options.registry.get(type);
    if (definition) {
      typed.push({
        name,
        type,
        enabled: commonResult.data.enabled,
        required: commonResult.data.required,
      });
    }
    if (!definition) {
      const hint = closest(type, options.registry.keys());
      const known = [...options.registry.keys()].map((t) => `"${t}"`).join(", ");
      issues.push({
        path: commonResult.data.type ? [...prefix, "type"] : prefix,
        message: `Unknown plugin type "${type}"${
          hint ? `; did you mean "${hint}"?` : ""
        } (known: ${known})`,
        ...locate(commonResult.data.type ? [...prefix, "type"] : prefix, !commonResult.data.type),
      });
      continue;
    }
    const ownResult = validate(definition.config, own, prefix);
    if (!ownResult.success) {
      issues.push(
        ...zodIssues(
          ownResult.error.issues,
          prefix,
          definition.config,
          own,
          locate,
          pluginCommonKeys,
        ),
      );
      continue;
    }
    plugins.push({ ...commonResult.data, name, type, config: ownResult.data });
  }

  {
    const enabled = typed.filter((p) => p.enabled);
    const plan = planDependencies(enabled.map((p) => ({
      name: p.name,
      type: p.type,
      requires: requiredTypes(
        options.registry.get(p.type)?.requires ?? [],
        enabled,
        options.registry,
      ),
    })));
    const store = root.success ? root.data.server.rateLimit?.store : undefined;
    if (store !== undefined && !typed.some((p) => p.enabled && p.name === store)) {
      issues.push({
        path: ["server", "rateLimit", "store"],
        message: `No enabled plugin instance is named "${store}"${
          closest(store, typed.map((p) => p.name))
            ? `; did you mean "${closest(store, typed.map((p) => p.name))}"?`
            : ""
        }`,
        ...locate(["server", "rateLimit", "store"]),
      });
    }
    // "Requires" means "must be ready first": a required instance cannot lean on an optional one.
    for (const instance of typed.filter((p) => p.enabled && p.required)) {
      const requires = options.registry.get(instance.type)?.requires ?? [];
      for (const needed of requiredTypes(requires, enabled, options.registry)) {
        const optional = typed.find((p) => p.enabled && !p.required && p.type === needed);
        if (!optional || needed === instance.type) continue;
        issues.push({
          path: ["plugins", instance.name],
          message:
            `Plugin "${instance.name}" is required but depends on "${optional.name}", which is optional (required: false)`,
          ...locate(["plugins", instance.name], true),
        });
      }
    }
    if (!plan.ok) {
      for (const problem of plan.problems) {
        const at = problem.kind === "missing" ? problem.instance : problem.cycle[0]!;
        issues.push({
          path: ["plugins", at],
          message: describeDependencyProblem(problem),
          ...locate(["plugins", at], true),
        });
      }
    }
  }

  const reported = issues.filter((issue) =>
    interpolationIssues.has(issue) || !failed.has(issue.path.join("\0"))
  );
  if (reported.length || !root.success) {
    issues.length = 0;
    issues.push(...reported);
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(options.file, issues);
  }
  return { server: root.data.server, auth: root.data.auth, log: root.data.log, plugins };
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

/** An unquoted `${PORT}` becomes a number (or boolean) as if the value had been written inline. */
function retype(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true" || value === "false") return value === "true";
  return value;
}

function zodIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  prefix: (string | number)[],
  schema: z.ZodType,
  data: unknown,
  locate: (path: readonly (string | number)[], atKey?: boolean) => { line: number; col: number },
  extraKeys: readonly string[] = [],
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
    if (issue.code === "unrecognized_keys") {
      const known = [
        ...knownKeys(schema, issue.path, data),
        ...(issue.path.length ? [] : extraKeys),
      ];
      for (const key of issue.keys) {
        const hint = closest(key, known);
        issues.push({
          path: [...path, key],
          message: `Unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ""}`,
          ...locate([...path, key], true),
        });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === "invalid_key") {
      // A record key (an instance name) that fails its own schema: point at the key itself.
      const key = String(issue.path.at(-1));
      issues.push({
        path,
        message: `Invalid name "${key}": ${issue.issues[0]?.message ?? issue.message}`,
        ...locate(path, true),
      });
      continue;
    }
    if (issue.code === "invalid_union" && "options" in issue && Array.isArray(issue.options)) {
      const actual = valueAt(data, issue.path);
      const options = issue.options.map(String);
      const hint = typeof actual === "string" ? closest(actual, options) : undefined;
      message = actual === undefined
        ? `Required: one of ${options.map((o) => `"${o}"`).join(", ")}`
        : `Expected one of ${options.map((o) => `"${o}"`).join(", ")}${
          hint ? `; did you mean "${hint}"?` : ""
        }`;
    } else if (issue.code === "invalid_type" && valueAt(data, issue.path) === undefined) {
      message = `Required: expected ${issue.expected}`;
    }
    issues.push({ path, message, ...locate(path) });
  }
  return issues;
}

/** The keys an object schema accepts at `path`, following the data through unions. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let current: z.core.$ZodType | undefined = schema;
  let value = data;
  for (let i = 0; i <= path.length && current; i++) {
    current = unwrap(current, value);
    if (i === path.length) break;
    const segment = path[i]!;
    const def = current._zod.def as unknown as Record<string, unknown>;
    value = isRecord(value) || Array.isArray(value)
      ? (value as Record<PropertyKey, unknown>)[segment]
      : undefined;
    if (def.type === "object") {
      current = (def.shape as Record<string, z.core.$ZodType>)[String(segment)];
    } else if (def.type === "record") current = def.valueType as z.core.$ZodType;
    else if (def.type === "array") current = def.element as z.core.$ZodType;
    else current = undefined;
  }
  const def = current?._zod.def as unknown as Record<string, unknown> | undefined;
  return def?.type === "object" ? Object.keys(def.shape as object) : [];
}

/** Sees through optional, default, pipe and union wrappers to the schema the value meets. */
function unwrap(schema: z.core.$ZodType, value: unknown): z.core.$ZodType {
  let current = schema;
  for (let guard = 0; guard < 20; guard++) {
    const def = current._zod.def as unknown as Record<string, unknown>;
    if ("innerType" in def) current = def.innerType as z.core.$ZodType;
    else if (def.type === "pipe") current = def.in as z.core.$ZodType;
    else if (def.type === "union") {
      const options = def.options as z.core.$ZodType[];
      const discriminator = def.discriminator as string | undefined;
      const match = discriminator && isRecord(value)
        ? options.find((option) => literalOf(option, discriminator) === value[discriminator])
        : undefined;
      current = match ?? options.find((o) => (o._zod.def as { type: string }).type === "object") ??
        options[0]!;
    } else return current;
  }
  return current;
}

function literalOf(schema: z.core.$ZodType, key: string): unknown {
  const def = schema._zod.def as unknown as {
    type: string;
    shape?: Record<string, z.core.$ZodType>;
  };
  const field = def.type === "object" ? def.shape?.[key] : undefined;
  const values = (field?._zod.def as { values?: unknown[] } | undefined)?.values;
  return values?.[0];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (!isRecord(value) && !Array.isArray(value)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function setAt(data: unknown, path: readonly PropertyKey[], value: unknown): boolean {
  const parent = valueAt(data, path.slice(0, -1));
  if (!isRecord(parent) && !Array.isArray(parent)) return false;
  (parent as Record<PropertyKey, unknown>)[path.at(-1)!] = value;
  return true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Offset of the node at `path` (or of its key, with `atKey`); for a missing node, the deepest
 * ancestor that exists, so "Required" errors point at the block that lacks the field.
 */
function offsetOf(root: unknown, path: readonly (string | number)[], atKey: boolean): number {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((item) =>
        isScalar(item.key) && String(item.key.value) === String(segment)
      );
      if (!pair) return offset;
      const keyOffset = (pair.key as Node).range?.[0] ?? offset;
      if (i === path.length - 1 && atKey) return keyOffset;
      node = pair.value as Node | null;
      offset = node?.range?.[0] ?? keyOffset;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment] as Node | undefined;
      if (!node) return offset;
      offset = node.range?.[0] ?? offset;
    } else return offset;
  }
  return offset;
}

function pathOf(root: unknown, target: Node): (string | number)[] {
  const search = (node: unknown, path: (string | number)[]): (string | number)[] | undefined => {
    if (node === target) return path;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const found = search(pair.value, [
          ...path,
          isScalar(pair.key) ? String(pair.key.value) : "?",
        ]);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        const found = search(item, [...path, index]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return search(root, []) ?? [];
}
