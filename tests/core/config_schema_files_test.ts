/**
 * The shipped JSON Schema (`config/edgebox.schema.json`) against every config in the repository
 * and the README's config examples, with a real Draft 2020-12 validator (ajv), so the schema that
 * editors use and the loader that edgebox uses cannot drift apart: each file must load with the
 * loader AND validate with the schema, as written (before `${ENV}` substitution).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";
import { configJsonSchema } from "../../core/config_json_schema.ts";
import { parseConfig } from "../../core/config.ts";
import { registryOf } from "../../core/plugin.ts";
import { builtinPlugins } from "../../plugins/mod.ts";
import { auditPlugin } from "../../examples/plugin-kv-audit/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMA_FILE = `${ROOT}config/edgebox.schema.json`;
const SKIPPED_DIRS = new Set([".git", "data", "dist", "node_modules", ".scratch", "target"]);
const SECTIONS = new Set(["server", "auth", "log", "plugins"]);

type Json = Record<string, unknown>;

function validator(schema: Json) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  // deno-lint-ignore no-explicit-any -- ajv-formats' CJS default export is typed loosely
  (addFormats as any)(ajv);
  ajv.addSchema(schema, "edgebox");
  return ajv;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}

/** Every YAML file under the repository. */
async function* yamlFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && !SKIPPED_DIRS.has(entry.name)) {
      yield* yamlFiles(`${dir}${entry.name}/`);
    } else if (entry.isFile && /\.ya?ml$/.test(entry.name)) yield `${dir}${entry.name}`;
  }
}

/**
 * The edgebox configs in a YAML file: the file itself when it is one (its top-level keys are
 * config sections), or the `*.yaml` entries of a Kubernetes ConfigMap that hold one.
 */
function configsIn(text: string): { label: string; text: string }[] {
  const found: { label: string; text: string }[] = [];
  for (const document of YAML.parseAllDocuments(text)) {
    const value = document.toJS() as unknown;
    if (!isRecord(value)) continue;
    if (value.kind === "ConfigMap" && isRecord(value.data)) {
      for (const [key, entry] of Object.entries(value.data)) {
        if (/\.ya?ml$/.test(key) && typeof entry === "string" && isConfig(YAML.parse(entry))) {
          found.push({ label: `ConfigMap data.${key}`, text: entry });
        }
      }
    } else if (isConfig(value)) found.push({ label: "", text: document.toString() });
  }
  return found;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isConfig(value: unknown): boolean {
  return isRecord(value) && Object.keys(value).length > 0 &&
    Object.keys(value).every((key) => SECTIONS.has(key));
}

const shipped = JSON.parse(await Deno.readTextFile(SCHEMA_FILE)) as Json;
const builtin = registryOf(builtinPlugins);
/**
 * The environment a config is loaded with: its defaults where it has them, and a plausible value
 * for each variable it requires (`${VAR}`, `${VAR:?message}`), as a deployment would set.
 */
function envFor(text: string): (name: string) => string | undefined {
  const required = new Set(
    [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\}|:?\?)/g)].map((match) => match[1]!),
  );
  return (name) => required.has(name) ? plausible(name) : undefined;
}

function plausible(name: string): string {
  if (name.endsWith("_URL")) {
    if (name.startsWith("REDIS")) return "redis://redis:6379";
    if (name.startsWith("NATS")) return "nats://nats:4222";
    if (name.startsWith("NEO4J")) return "bolt://neo4j:7687";
    return "http://service:8080";
  }
  if (name.endsWith("PORT")) return "8080";
  return "s".repeat(32); // secrets, keys, passwords, tokens: long enough for every minimum
}

Deno.test("the shipped schema is the one `deno task schema` generates", () => {
  assert.deepEqual(
    shipped,
    JSON.parse(JSON.stringify(configJsonSchema(builtin))),
    "config/edgebox.schema.json is stale: run `deno task schema`",
  );
});

Deno.test("the shipped schema compiles in strict Draft 2020-12 mode (standard formats only)", () => {
  const ajv = validator(shipped);
  assert.ok(ajv.getSchema("edgebox"));
  assert.doesNotMatch(JSON.stringify(shipped), /"format":"(starts_with|ends_with|includes)"/);
});

Deno.test("every edgebox config in the repository loads and validates against the schema", async () => {
  const ajv = validator(shipped);
  const validate = ajv.getSchema("edgebox")!;
  const checked: string[] = [];
  for await (const file of yamlFiles(ROOT)) {
    const relative = file.slice(ROOT.length);
    // The example builds its own binary with one more plugin type; its schema says so.
    const example = relative.startsWith("examples/plugin-kv-audit/");
    const registry = example ? registryOf([...builtinPlugins, auditPlugin]) : builtin;
    const check = example ? validator(configJsonSchema(registry)).getSchema("edgebox")! : validate;
    for (const config of configsIn(await Deno.readTextFile(file))) {
      const name = `${relative}${config.label ? ` (${config.label})` : ""}`;
      parseConfig(config.text, { file: name, registry, env: envFor(config.text) });
      const valid = check(YAML.parse(config.text) ?? {});
      assert.ok(valid, `${name}: ${describe(check.errors)}`);
      checked.push(name);
    }
  }
  for (const expected of ["config/edgebox.yaml", "config/local-stack.yaml"]) {
    assert.ok(checked.includes(expected), `${expected} was not found among ${checked.join(", ")}`);
  }
});

/** The README's ```yaml blocks, each with the line it starts on. */
async function readmeYamlBlocks(): Promise<{ line: number; text: string }[]> {
  const lines = (await Deno.readTextFile(`${ROOT}README.md`)).split("\n");
  const blocks: { line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```yaml") continue;
    const start = i + 1;
    while (++i < lines.length && lines[i]!.trim() !== "```");
    blocks.push({ line: start + 1, text: lines.slice(start, i).join("\n") });
  }
  return blocks;
}

Deno.test("the README's config examples validate against the schema", async () => {
  const ajv = validator(shipped);
  const validate = ajv.getSchema("edgebox")!;
  const plugins = (shipped.properties as Json).plugins as { properties: Json };
  let checked = 0;
  for (const block of await readmeYamlBlocks()) {
    const where = `README.md:${block.line}`;
    const value = YAML.parse(block.text) as unknown;
    assert.ok(isRecord(value), `${where}: not a YAML mapping`);
    if (isConfig(value)) {
      // A whole config: the loader and the schema both take it.
      parseConfig(block.text, { file: where, registry: builtin, env: envFor(block.text) });
      assert.ok(validate(value), `${where}: ${describe(validate.errors)}`);
      checked++;
      continue;
    }
    // A plugin block documenting the fields of all its backends at once: each field must be one
    // that some backend of that plugin has, with a value that backend accepts.
    for (const [type, fields] of Object.entries(value)) {
      const block = plugins.properties[type] as { anyOf?: Json[] } | undefined;
      assert.ok(block, `${where}: "${type}" is neither a config section nor a plugin type`);
      const branches = (block.anyOf ?? [block as Json]).map((branch, index) => ({
        index,
        properties: (branch.properties ?? {}) as Json,
      }));
      assert.ok(isRecord(fields), `${where}: ${type} is not a mapping`);
      for (const [field, fieldValue] of Object.entries(fields)) {
        const owners = branches.filter((branch) => field in branch.properties);
        assert.ok(owners.length > 0, `${where}: ${type}.${field} is in no backend's schema`);
        const accepted = owners.some(({ index }) => {
          const pointer = block.anyOf
            ? `edgebox#/properties/plugins/properties/${type}/anyOf/${index}/properties/${field}`
            : `edgebox#/properties/plugins/properties/${type}/properties/${field}`;
          return ajv.getSchema(pointer)!(fieldValue);
        });
        assert.ok(accepted, `${where}: ${type}.${field}: ${JSON.stringify(fieldValue)} is invalid`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 5, `only ${checked} README config examples were found`);
});

Deno.test("sizes match case-insensitively and ${VAR} is accepted in typed fields", () => {
  const validate = validator(shipped).getSchema("edgebox")!;
  for (
    const ok of [
      { server: { bodyLimit: "1MiB" } },
      { server: { bodyLimit: "1mib" } },
      { server: { bodyLimit: 1024 } },
      { server: { port: "${PORT:-8080}" } },
      { log: { level: "${LOG_LEVEL:-info}" } },
      { server: { shutdownTimeout: "${GRACE:-10s}" } },
      { plugins: { observability: null } },
      { plugins: { sessions: { type: "cache", backend: "memory" } } },
    ]
  ) assert.ok(validate(ok), `${JSON.stringify(ok)}: ${describe(validate.errors)}`);
  for (
    const bad of [
      { server: { bodyLimit: "1 lots" } },
      { server: { port: "eighty" } },
      { server: { prot: 8080 } },
      { log: { level: "loud" } },
      { plugins: { Cache: { backend: "memory" } } },
      { plugins: { cache: { backend: "memroy" } } },
    ]
  ) assert.equal(validate(bad), false, `${JSON.stringify(bad)} should be refused`);
});
