/**
 * The edgebox command line (`serve`, `check`, `backup`, `restore`, `plugins`, `schema`, `probe`,
 * `version`) over the plugin types it is given: `main(Deno.args, { plugins })` is a whole
 * edgebox, so a program that adds its own plugins to the built-in ones is a custom build, the
 * way Caddy's are.
 * Exit codes: 0 success, 1 runtime or config failure, 2 bad usage.
 */
import { parseArgs } from "node:util";
import defaultConfigText from "../config/edgebox.yaml" with { type: "text" };
import { ConfigError, type EdgeboxConfig, loadConfigFile, parseConfig } from "./config.ts";
import { authRefusal } from "./auth.ts";
import { backup, BackupError, restore } from "./backup.ts";
import { DataDirInUseError } from "./data_dir.ts";
import { describeCause } from "./cause.ts";
import { configJsonSchema, pluginBlockSchema } from "./config_json_schema.ts";
import { pluginCommonKeys } from "./config_schema.ts";
import { closest } from "./suggest.ts";
import {
  type PluginDefinition,
  type PluginRegistry,
  registryOf,
  requirementName,
} from "./plugin.ts";
import { embeddedSource, fileSource } from "./reload_source.ts";
import { serve } from "./server.ts";
import { VERSION } from "./version.ts";

const USAGE = `edgebox ${VERSION}: plugins for NATS, Redis, Neo4j and S3 behind one HTTP API

Usage:
  edgebox serve   [--config FILE] [--host HOST] [--port PORT] [--watch-config]
  edgebox check   --config FILE
  edgebox backup  [--config FILE] --out DIR    (while edgebox serves: a consistent copy)
  edgebox restore [--config FILE] --from DIR   (while edgebox is stopped)
  edgebox plugins [--json]
  edgebox schema  [--write FILE]
  edgebox probe   [URL]        (exit 0 when URL, default http://127.0.0.1:8080/health, answers 2xx)
  edgebox version

Without --config, serve uses the built-in config (every plugin on its embedded backend).
SIGHUP or POST /admin/reload reloads the config file; --watch-config reloads it when it changes.
`;

/** The name used for the built-in config in messages. */
const EMBEDDED = "<embedded>/config/edgebox.yaml";

function usage(problem?: string): number {
  if (problem) console.error(`edgebox: ${problem}\n`);
  console.error(USAGE);
  return 2;
}

async function readConfig(
  file: string | undefined,
  registry: PluginRegistry,
): Promise<EdgeboxConfig> {
  return file === undefined
    ? parseConfig(defaultConfigText, { file: EMBEDDED, registry })
    : await loadConfigFile(file, { registry });
}

/** Options of {@linkcode main}. */
export interface MainOptions {
  /** Every plugin type this edgebox knows (the built-in ones and any of your own). */
  plugins: readonly PluginDefinition[];
}

/** Runs the CLI over `options.plugins` and returns the exit code. */
export async function main(args: string[], options: MainOptions): Promise<number> {
  const registry = registryOf(options.plugins);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        host: { type: "string" },
        port: { type: "string", short: "p" },
        json: { type: "boolean" },
        write: { type: "string" },
        out: { type: "string" },
        from: { type: "string" },
        "watch-config": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usage(argumentProblem(error));
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (extra.length > (command === "probe" ? 1 : 0)) {
    return usage(`Unexpected argument "${extra.at(-1)}"`);
  }
  const allowed: Record<string, string[]> = {
    serve: ["config", "host", "port", "watch-config"],
    check: ["config"],
    plugins: ["json"],
    schema: ["write"],
    version: [],
    probe: [],
    backup: ["config", "out"],
    restore: ["config", "from"],
  };
  if (command === undefined) return usage("Missing command");
  if (!(command in allowed)) return usage(`Unknown command "${command}"`);
  const stray = Object.keys(values).find((flag) => !allowed[command]!.includes(flag));
  if (stray) return usage(`Option --${stray} does not apply to "${command}"`);

  try {
    switch (command) {
      case "probe":
        return await probe(extra[0] ?? "http://127.0.0.1:8080/health");
      case "version":
        console.log(`edgebox ${VERSION} (deno ${Deno.version.deno})`);
        return 0;
      case "check": {
        if (values.config === undefined) return usage("check needs --config FILE");
        const empty = await isEmptyFile(values.config);
        if (empty) {
          // An empty file is valid YAML and an empty config, but almost always the wrong file.
          console.error(
            `${values.config}:1:1 (file): The config is empty; it would serve no plugins ` +
              `(start from config/edgebox.yaml, or run serve without --config)`,
          );
          return 1;
        }
        const config = await readConfig(values.config, registry);
        const refusal = authRefusal(config.auth, config.server.host);
        if (refusal) {
          console.error(`${values.config}: ${refusal}`);
          return 1;
        }
        const enabled = config.plugins.filter((p) => p.enabled).map((p) => p.name);
        if (enabled.length === 0) {
          console.error(
            `${values.config}: warning: no plugin is enabled; edgebox would serve only ` +
              `/health, /ready, /plugins, /openapi.json and /docs`,
          );
          console.log(`${values.config}: ok (no plugins)`);
          return 0;
        }
        console.log(
          `${values.config}: ok (${enabled.length} plugin${enabled.length === 1 ? "" : "s"}: ${
            enabled.join(", ")
          })`,
        );
        return 0;
      }
      case "backup":
      case "restore": {
        const target = command === "backup" ? values.out : values.from;
        if (target === undefined) {
          return usage(`${command} needs --${command === "backup" ? "out" : "from"} DIR`);
        }
        const config = await readConfig(values.config, registry);
        const report = command === "backup" ? backup(config, target) : restore(config, target);
        for (const { instance, file, bytes } of report.instances) {
          console.log(`${instance}: ${file} (${bytes} bytes)`);
        }
        console.log(
          command === "backup"
            ? `backed up ${report.instances.length} instance(s) of ${report.dataDir} into ${target}`
            : `restored ${report.instances.length} instance(s) into ${report.dataDir}`,
        );
        return 0;
      }
      case "plugins":
        return listPlugins(registry, values.json === true);
      case "schema": {
        const text = JSON.stringify(configJsonSchema(registry), null, 2) + "\n";
        if (values.write) await Deno.writeTextFile(values.write, text);
        else console.log(text.trimEnd());
        return 0;
      }
      case "serve": {
        if (values["watch-config"] && values.config === undefined) {
          return usage("--watch-config needs --config FILE (the built-in config cannot change)");
        }
        const config = await readConfig(values.config, registry);
        const overrides: { host?: string; port?: number } = {};
        if (values.host !== undefined) config.server.host = overrides.host = values.host;
        if (values.port !== undefined) {
          const port = Number(values.port);
          if (!/^\d+$/.test(values.port) || port > 65_535) {
            return usage(`--port must be 0 to 65535, got "${values.port}"`);
          }
          config.server.port = overrides.port = port;
        }
        return await serve(config, {
          registry,
          source: values.config ?? EMBEDDED,
          reload: {
            source: values.config === undefined
              ? embeddedSource(EMBEDDED, defaultConfigText)
              : fileSource(values.config),
            overrides,
            ...(values["watch-config"] ? { watch: values.config! } : {}),
          },
        });
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    if (error instanceof BackupError || error instanceof DataDirInUseError) {
      console.error(`edgebox: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return 2;
}

/** How long `probe` waits for an answer. */
const PROBE_TIMEOUT = 2_000;

/**
 * A health check for images without curl (distroless): exit 0 on a 2xx answer; otherwise one
 * line on stderr says what came back (the status) or why nothing did (connection refused).
 */
async function probe(url: string): Promise<number> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return usage(`probe needs an http(s) URL, got "${url}"`);
  }
  try {
    const response = await fetch(target, { signal: AbortSignal.timeout(PROBE_TIMEOUT) });
    await response.body?.cancel();
    if (response.ok) return 0;
    console.error(
      `edgebox: probe ${url}: ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }`,
    );
    return 1;
  } catch (error) {
    const reason = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${PROBE_TIMEOUT / 1000}s`
      : describeCause(error);
    const hint = reason.startsWith("connection refused")
      ? ` (is edgebox listening on ${target.host}?)`
      : "";
    console.error(`edgebox: probe ${url} failed: ${reason}${hint}`);
    return 1;
  }
}

/** The flags `main` accepts, for "did you mean" hints. */
const FLAGS = ["config", "host", "port", "json", "write", "out", "from", "watch-config", "help"];

/** parseArgs' error as one line, with a hint for a misspelled flag. */
function argumentProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(message);
  if (unknown) {
    const [, dashes, name] = unknown as unknown as [string, string, string];
    const hint = closest(name, FLAGS);
    return `Unknown option "${dashes}${name}"${hint ? `; did you mean "--${hint}"?` : ""}`;
  }
  const missing = /^Option '(?:-\w, )?--(\w+) <value>' argument missing/.exec(message);
  if (missing) return `Option --${missing[1]} needs a value`;
  const extra = /^Option '--(\w+)' does not take an argument/.exec(message);
  if (extra) return `Option --${extra[1]} takes no value`;
  return message.split(". ")[0]!.replace(/'/g, '"');
}

/** Whether a config file holds nothing but blank lines and comments. */
async function isEmptyFile(file: string): Promise<boolean> {
  try {
    const text = await Deno.readTextFile(file);
    return text.split("\n").every((line) => /^\s*(#.*)?$/.test(line));
  } catch {
    return false; // readConfig reports why it cannot be read
  }
}

/** A plugin block's own top-level fields (every backend's), without the common ones. */
function ownFields(schema: Record<string, unknown>): string[] {
  const branches = (schema.anyOf ?? schema.oneOf ?? [schema]) as Record<string, unknown>[];
  const fields = new Set<string>();
  for (const branch of branches) {
    for (const key of Object.keys((branch.properties ?? {}) as object)) {
      if (!pluginCommonKeys.includes(key) && key !== "backend") fields.add(key);
    }
  }
  return [...fields];
}

function listPlugins(registry: PluginRegistry, json: boolean): number {
  const entries = [...registry.values()].map((definition) => ({
    type: definition.type,
    description: definition.description,
    backends: [...(definition.backends ?? [])],
    requires: (definition.requires ?? []).map(requirementName),
    schema: pluginBlockSchema(definition),
  }));
  if (json) {
    console.log(JSON.stringify(entries, null, 2));
    return 0;
  }
  // A summary per type; the full config schema is in `--json` and `edgebox schema`.
  for (const entry of entries) {
    console.log(`${entry.type}: ${entry.description}`);
    if (entry.backends.length > 0) console.log(`  backends: ${entry.backends.join(", ")}`);
    if (entry.requires.length > 0) console.log(`  requires: ${entry.requires.join(", ")}`);
    const fields = ownFields(entry.schema);
    if (fields.length > 0) console.log(`  fields:   ${fields.join(", ")}`);
  }
  console.log(
    `\nConfig schema of each type: edgebox plugins --json; of a whole file: edgebox schema`,
  );
  return 0;
}
