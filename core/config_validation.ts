/**
 * Validates one section of the config against its zod schema and turns zod's issues into
 * located {@linkcode ConfigIssue}s: unknown keys with a "did you mean", missing fields as
 * "Required", a wrong discriminator as the list of choices.
 */
import type { z } from "zod";
import type { ConfigIssue } from "./config_error.ts";
import { type ConfigPath, type Locate, pathKey } from "./config_source.ts";
import { closest } from "./suggest.ts";

/** A validated section, or every issue found in it. */
export type SectionResult<T> = { success: true; data: T } | {
  success: false;
  issues: ConfigIssue[];
};

/** Where a section sits in the config, and which keys beside its schema's own are allowed. */
export interface SectionOptions {
  /** The section's path (`["plugins", "cache"]`); empty for the root. */
  prefix: ConfigPath;
  /** Keys a sibling schema validates, suggested for a typo at the section's top level. */
  extraKeys?: readonly string[];
}

/** Validates `value` (retyping it in place where allowed) as `schema` says. */
export type ValidateSection = <S extends z.ZodType>(
  schema: S,
  value: unknown,
  options: SectionOptions,
) => SectionResult<z.output<S>>;

/** Options of {@linkcode sectionValidator}. */
export interface SectionValidatorOptions {
  /** Paths of values that may be retyped (see `Interpolation.retypable`). */
  retypable: ReadonlySet<string>;
  locate: Locate;
}

/** A {@linkcode ValidateSection} for one document. */
export function sectionValidator(options: SectionValidatorOptions): ValidateSection {
  const { retypable, locate } = options;
  return (schema, value, { prefix, extraKeys = [] }) => {
    let result = schema.safeParse(value);
    for (let round = 0; round < 3 && !result.success; round++) {
      let changed = false;
      for (const issue of result.error.issues) {
        if (issue.code !== "invalid_type" || !retypable.has(pathKey([...prefix, ...issue.path]))) {
          continue;
        }
        const current = valueAt(value, issue.path);
        const typed = typeof current === "string" ? retype(current) : current;
        if (typed !== current) changed = setAt(value, issue.path, typed);
      }
      if (!changed) break;
      result = schema.safeParse(value);
    }
    if (result.success) return { success: true, data: result.data };
    return {
      success: false,
      issues: zodIssues(result.error.issues, { prefix, schema, data: value, locate, extraKeys }),
    };
  };
}

/** Whether `value` is a plain object (a YAML map). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An unquoted `${PORT}` becomes a number (or boolean) as if the value had been written inline. */
function retype(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true" || value === "false") return value === "true";
  return value;
}

interface ZodIssuesOptions {
  prefix: ConfigPath;
  schema: z.ZodType;
  data: unknown;
  locate: Locate;
  extraKeys: readonly string[];
}

function zodIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  { prefix, schema, data, locate, extraKeys }: ZodIssuesOptions,
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
    const choices = issue.code === "invalid_union" && "options" in issue &&
        Array.isArray(issue.options)
      ? issue.options.map(String)
      : issue.code === "invalid_value" && issue.values.length > 0
      ? issue.values.map(String)
      : undefined;
    if (choices) {
      const actual = valueAt(data, issue.path);
      message = actual === undefined
        ? `Required: ${choiceList(choices)}`
        : `Expected ${choiceList(choices)}, got ${JSON.stringify(actual)}${
          hintFor(actual, choices)
        }`;
    } else if (issue.code === "invalid_type" && valueAt(data, issue.path) === undefined) {
      message = `Required: expected ${issue.expected}`;
    }
    issues.push({ path, message, ...locate(path) });
  }
  return issues;
}

/** `"memory"`, or `one of "redis", "memory"`. */
function choiceList(choices: readonly string[]): string {
  const quoted = choices.map((choice) => `"${choice}"`);
  return quoted.length === 1 ? quoted[0]! : `one of ${quoted.join(", ")}`;
}

/** A "did you mean" for a near miss; nothing when the value is no string or not near any. */
function hintFor(actual: unknown, choices: readonly string[]): string {
  if (typeof actual !== "string") return "";
  const hint = closest(actual.trim(), choices);
  return hint === undefined ? "" : `; did you mean "${hint}"?`;
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
