/** Reading edgebox.yaml: defaults, `${ENV}`, validation with `file:line:col`, plugin blocks. */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  ConfigError,
  type ConfigIssue,
  type EdgeboxConfig,
  formatIssue,
  loadConfigFile,
  parseConfig,
  type PluginInstanceConfig,
} from "../../core/config.ts";
import { definePlugin, type PluginDefinition, type PluginRegistry } from "../../core/plugin.ts";
import { builtinRegistry as builtinPlugins } from "../../plugins/mod.ts";

const FILE = "test.yaml";

interface ParseOptions {
  env?: Record<string, string>;
  registry?: PluginRegistry;
}

function envOf(vars: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => vars[name];
}

/** Config text from lines, so line numbers in assertions are easy to count. */
function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(text: string, options: ParseOptions = {}): EdgeboxConfig {
  return parseConfig(text, {
    file: FILE,
    registry: options.registry ?? builtinPlugins,
    env: envOf(options.env),
  });
}

function issuesOf(text: string, options: ParseOptions = {}): ConfigIssue[] {
  try {
    parse(text, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.file, FILE);
    return error.issues;
  }
  assert.fail("expected the config to be refused");
}

/** The one issue at `path`, failing with every issue found when there is none. */
function issueAt(issues: ConfigIssue[], path: (string | number)[]): ConfigIssue {
  const found = issues.find((issue) => issue.path.join(".") === path.join("."));
  assert.ok(found, `no issue at ${path.join(".")}; got ${JSON.stringify(issues, null, 2)}`);
  return found;
}

function where(issue: ConfigIssue): { line: number; col: number } {
  return { line: issue.line, col: issue.col };
}

function instance(config: EdgeboxConfig, name: string): PluginInstanceConfig {
  const found = config.plugins.find((p) => p.name === name);
  assert.ok(found, `no instance "${name}" among ${config.plugins.map((p) => p.name).join(", ")}`);
  return found;
}

/** A plugin type for tests: no fields of its own, and the given dependencies. */
function testPlugin(type: string, requires: string[] = []): PluginDefinition {
  return definePlugin({
    type,
    description: `Test plugin ${type}`,
    config: z.strictObject({}),
    requires,
    create: () => ({}),
  });
}

function registryOf(...definitions: PluginDefinition[]): PluginRegistry {
  return new Map(definitions.map((definition) => [definition.type, definition]));
}

/** A plugin whose backends are `memory` and `redis`, like the real plugin types. */
const kvPlugin = definePlugin({
  type: "kv",
  description: "Test key-value plugin with two backends",
  config: z.discriminatedUnion("backend", [
    z.strictObject({ backend: z.literal("memory") }),
    z.strictObject({ backend: z.literal("redis"), url: z.string() }),
  ]),
  create: () => ({}),
});

// Defaults

Deno.test("an empty file listens on 127.0.0.1:8080", () => {
  const { server } = parse("");
  assert.equal(server.host, "127.0.0.1");
  assert.equal(server.port, 8080);
});

Deno.test("an empty file gives a 10s shutdown timeout and a 1 MiB body limit", () => {
  const { server } = parse("");
  assert.equal(server.shutdownTimeout, 10_000);
  assert.equal(server.bodyLimit, 1_048_576);
});

Deno.test("an empty file logs at info, has no API keys and no plugins", () => {
  const config = parse("");
  assert.equal(config.log.level, "info");
  assert.equal(config.log.format, undefined);
  assert.equal(config.auth.mode, undefined);
  assert.deepEqual(config.auth.keys, []);
  assert.deepEqual(config.plugins, []);
});

Deno.test("a file holding only comments is read as an empty one", () => {
  assert.deepEqual(parse("# nothing configured yet\n"), parse(""));
});

Deno.test("a section given only in part keeps the defaults of its other fields", () => {
  const { server } = parse(yaml("server:", "  port: 9000"));
  assert.equal(server.port, 9000);
  assert.equal(server.host, "127.0.0.1");
  assert.equal(server.bodyLimit, 1_048_576);
});

Deno.test("an API key gets the * scope by default", () => {
  const config = parse(yaml(
    "auth:",
    "  keys:",
    "    - name: ci",
    "      key: 0123456789abcdef",
  ));
  assert.deepEqual(config.auth.keys, [{ name: "ci", key: "0123456789abcdef", scopes: ["*"] }]);
});

Deno.test("a plugin block gets the common defaults: enabled, required, timeouts, retries", () => {
  const echo = instance(parse(yaml("plugins:", "  echo:", "    backend: memory")), "echo");
  assert.equal(echo.enabled, true);
  assert.equal(echo.required, true);
  assert.deepEqual(echo.timeouts, { start: 30_000, ready: 2_000, stop: 10_000 });
  assert.equal(echo.startAttempts, 3);
  assert.deepEqual(echo.reconnect, { initialDelay: 500, maxDelay: 2_000 });
  assert.equal(echo.healthInterval, 5_000);
});

Deno.test("a plugin block gets its own schema's defaults under config", () => {
  const echo = instance(parse(yaml("plugins:", "  echo:", "    backend: memory")), "echo");
  assert.deepEqual(echo.config, {
    backend: "memory",
    greeting: "hello from edgebox",
    connectDelay: 0,
    maxDelay: 30_000,
    maxMessageLength: 4_096,
  });
});

// Units

Deno.test("durations and sizes in config parse to milliseconds and bytes", () => {
  const { server } = parse(yaml("server:", "  shutdownTimeout: 30s", "  bodyLimit: 1MiB"));
  assert.equal(server.shutdownTimeout, 30_000);
  assert.equal(server.bodyLimit, 1_048_576);
});

Deno.test("durations and sizes may be written as plain numbers of ms and bytes", () => {
  const { server } = parse(yaml("server:", "  shutdownTimeout: 1500", "  bodyLimit: 2048"));
  assert.equal(server.shutdownTimeout, 1_500);
  assert.equal(server.bodyLimit, 2_048);
});

Deno.test("durations in plugin blocks parse too", () => {
  const echo = instance(
    parse(yaml(
      "plugins:",
      "  echo:",
      "    backend: memory",
      "    connectDelay: 250ms",
      "    timeouts: {start: 1m}",
    )),
    "echo",
  );
  assert.equal((echo.config as { connectDelay: number }).connectDelay, 250);
  assert.equal(echo.timeouts.start, 60_000);
  assert.equal(echo.timeouts.stop, 10_000);
});

Deno.test("a malformed duration is an error at its value", () => {
  const issues = issuesOf(yaml("server:", "  shutdownTimeout: 30 seconds"));
  assert.deepEqual(where(issueAt(issues, ["server", "shutdownTimeout"])), { line: 2, col: 20 });
});

Deno.test("a malformed size is an error at its value", () => {
  const issues = issuesOf(yaml("server:", "  bodyLimit: lots"));
  assert.deepEqual(where(issueAt(issues, ["server", "bodyLimit"])), { line: 2, col: 14 });
});

// Environment variables

Deno.test("${VAR} in a value is replaced from the environment", () => {
  const { server } = parse(yaml("server:", "  host: ${HOST}"), { env: { HOST: "0.0.0.0" } });
  assert.equal(server.host, "0.0.0.0");
});

Deno.test("an unquoted ${PORT} becomes a number", () => {
  const { server } = parse(yaml("server:", "  port: ${PORT}"), { env: { PORT: "9090" } });
  assert.equal(server.port, 9090);
});

Deno.test('a quoted "${X}" stays a string even when its value looks like a number', () => {
  const { server } = parse(yaml("server:", '  host: "${X}"'), { env: { X: "42" } });
  assert.equal(server.host, "42");
});

Deno.test("a single-quoted '${PORT}' stays a string, so a numeric field refuses it", () => {
  const issues = issuesOf(yaml("server:", "  port: '${PORT}'"), { env: { PORT: "9090" } });
  assert.deepEqual(where(issueAt(issues, ["server", "port"])), { line: 2, col: 9 });
});

Deno.test("an unquoted ${FLAG} holding true or false becomes a boolean", () => {
  const text = yaml("plugins:", "  echo:", "    backend: memory", "    enabled: ${FLAG}");
  assert.equal(instance(parse(text, { env: { FLAG: "false" } }), "echo").enabled, false);
  assert.equal(instance(parse(text, { env: { FLAG: "true" } }), "echo").enabled, true);
});

Deno.test("a reference inside a longer value is replaced in place", () => {
  const text = yaml("server:", "  host: ${SERVICE}.${ZONE}.internal");
  assert.equal(
    parse(text, { env: { SERVICE: "edge", ZONE: "eu1" } }).server.host,
    "edge.eu1.internal",
  );
});

Deno.test("${VAR:-default} uses the default when the variable is unset", () => {
  const { server } = parse(yaml("server:", "  port: ${PORT:-8081}"));
  assert.equal(server.port, 8081);
});

Deno.test("${VAR:-default} uses the default when the variable is empty", () => {
  const { server } = parse(yaml("server:", "  host: ${HOST:-localhost}"), { env: { HOST: "" } });
  assert.equal(server.host, "localhost");
});

Deno.test("${VAR:-default} uses the variable when it is set", () => {
  const { server } = parse(yaml("server:", "  host: ${HOST:-localhost}"), { env: { HOST: "::1" } });
  assert.equal(server.host, "::1");
});

Deno.test("an unset ${VAR} without default is an error naming the variable at its line:col", () => {
  const issue = issueAt(issuesOf(yaml("server:", "  port: 1", "  host: ${EDGEBOX_HOST}")), [
    "server",
    "host",
  ]);
  assert.deepEqual(where(issue), { line: 3, col: 9 });
  assert.match(issue.message, /\bEDGEBOX_HOST\b/);
});

Deno.test("an unset variable in a list item is reported at the item's field", () => {
  const issues = issuesOf(yaml(
    "auth:",
    "  keys:",
    "    - name: ci",
    "      key: ${CI_KEY}",
  ));
  const issue = issueAt(issues, ["auth", "keys", 0, "key"]);
  assert.deepEqual(where(issue), { line: 4, col: 12 });
  assert.match(issue.message, /\bCI_KEY\b/);
});

Deno.test("an unset variable in a plugin block is reported at its field", () => {
  const issues = issuesOf(
    yaml("plugins:", "  echo:", "    backend: memory", "    greeting: ${GREETING}"),
  );
  const issue = issueAt(issues, ["plugins", "echo", "greeting"]);
  assert.deepEqual(where(issue), { line: 4, col: 15 });
  assert.match(issue.message, /\bGREETING\b/);
});

Deno.test("${VAR:?message} reports its message when the variable is unset", () => {
  const issues = issuesOf(yaml("server:", "  host: ${HOST:?set HOST to the address to bind}"));
  const issue = issueAt(issues, ["server", "host"]);
  assert.deepEqual(where(issue), { line: 2, col: 9 });
  assert.match(issue.message, /set HOST to the address to bind/);
});

Deno.test("every unset variable in a file is reported", () => {
  const issues = issuesOf(yaml("server:", "  host: ${HOST}", "log:", "  level: ${LEVEL}"));
  assert.deepEqual(where(issueAt(issues, ["server", "host"])), { line: 2, col: 9 });
  assert.deepEqual(where(issueAt(issues, ["log", "level"])), { line: 4, col: 10 });
});

Deno.test("$${ writes a literal ${ that is not looked up", () => {
  const { server } = parse(yaml("server:", "  host: $${HOST}"), { env: { HOST: "0.0.0.0" } });
  assert.equal(server.host, "${HOST}");
});

Deno.test("a $ that starts no reference is kept as written", () => {
  const echo = instance(
    parse(yaml("plugins:", "  echo:", "    backend: memory", "    greeting: costs $5")),
    "echo",
  );
  assert.equal((echo.config as { greeting: string }).greeting, "costs $5");
});

Deno.test("a malformed reference is an error at its value", () => {
  const issues = issuesOf(yaml("server:", "  host: ${1HOST}"));
  assert.deepEqual(where(issueAt(issues, ["server", "host"])), { line: 2, col: 9 });
});

Deno.test("without an env option, ${VAR} reads the process environment", () => {
  const name = "EDGEBOX_CONFIG_TEST_HOST";
  Deno.env.set(name, "10.1.2.3");
  try {
    const config = parseConfig(yaml("server:", `  host: \${${name}}`), {
      file: FILE,
      registry: builtinPlugins,
    });
    assert.equal(config.server.host, "10.1.2.3");
  } finally {
    Deno.env.delete(name);
  }
});

// Unknown keys and wrong types

Deno.test('a typo key reports Unknown key "prot"; did you mean "port"? at the key', () => {
  const issues = issuesOf(yaml("server:", "  host: 127.0.0.1", "  prot: 8080"));
  assert.equal(issues.length, 1);
  const issue = issueAt(issues, ["server", "prot"]);
  assert.equal(issue.message, 'Unknown key "prot"; did you mean "port"?');
  assert.deepEqual(where(issue), { line: 3, col: 3 });
});

Deno.test("a misspelled top-level section suggests the section", () => {
  const issue = issueAt(issuesOf(yaml("sever:", "  port: 1")), ["sever"]);
  assert.match(issue.message, /did you mean "server"\?/);
  assert.deepEqual(where(issue), { line: 1, col: 1 });
});

Deno.test("an unknown key that resembles nothing gets no suggestion", () => {
  const issue = issueAt(issuesOf(yaml("server:", "  frobnicate: yes")), ["server", "frobnicate"]);
  assert.doesNotMatch(issue.message, /did you mean/);
  assert.deepEqual(where(issue), { line: 2, col: 3 });
});

Deno.test("a wrong type reports path server.port at the value's line and col", () => {
  const issues = issuesOf(yaml("server:", '  port: "abc"'));
  assert.equal(issues.length, 1);
  assert.deepEqual(where(issueAt(issues, ["server", "port"])), { line: 2, col: 9 });
});

Deno.test("a port above 65535 is an error at server.port", () => {
  const issues = issuesOf(yaml("server:", "  port: 70000"));
  assert.deepEqual(where(issueAt(issues, ["server", "port"])), { line: 2, col: 9 });
});

Deno.test("a value outside an enum is an error at its field", () => {
  const issues = issuesOf(yaml("log:", "  level: verbose"));
  assert.deepEqual(where(issueAt(issues, ["log", "level"])), { line: 2, col: 10 });
});

Deno.test("a typo and a wrong type in one file are both reported", () => {
  const issues = issuesOf(yaml("server:", "  prot: 8080", '  port: "abc"'));
  assert.deepEqual(
    issues.map((issue) => ({ path: issue.path.join("."), ...where(issue) })),
    [
      { path: "server.prot", line: 2, col: 3 },
      { path: "server.port", line: 3, col: 9 },
    ],
  );
  assert.match(issues[0]!.message, /did you mean "port"\?/);
});

Deno.test("problems in core sections and plugin blocks are all reported, in file order", () => {
  const issues = issuesOf(yaml(
    "plugins:",
    "  echo:",
    "    backend: memory",
    "    greting: hi",
    "server:",
    '  port: "abc"',
    "log:",
    "  level: loud",
  ));
  assert.deepEqual(
    issues.map((issue) => ({ path: issue.path.join("."), ...where(issue) })),
    [
      { path: "plugins.echo.greting", line: 4, col: 5 },
      { path: "server.port", line: 6, col: 9 },
      { path: "log.level", line: 8, col: 10 },
    ],
  );
});

Deno.test("problems in two plugin blocks are both reported", () => {
  const issues = issuesOf(yaml(
    "plugins:",
    "  a: {type: echo, backend: memory, greting: hi}",
    "  b: {type: echo, backend: memory, maxMessageLength: many}",
  ));
  assert.deepEqual(issues.map((issue) => issue.path.join(".")), [
    "plugins.a.greting",
    "plugins.b.maxMessageLength",
  ]);
});

Deno.test("a typo in a plugin's own field suggests that field", () => {
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  echo:", "    backend: memory", "    greting: hi")),
    ["plugins", "echo", "greting"],
  );
  assert.match(issue.message, /did you mean "greeting"\?/);
  assert.deepEqual(where(issue), { line: 4, col: 5 });
});

Deno.test("a typo in a field every plugin block has suggests that field", () => {
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  echo:", "    backend: memory", "    enabeld: false")),
    ["plugins", "echo", "enabeld"],
  );
  assert.match(issue.message, /did you mean "enabled"\?/);
  assert.deepEqual(where(issue), { line: 4, col: 5 });
});

Deno.test("a typo inside a nested common field is reported with its full path", () => {
  const issue = issueAt(
    issuesOf(
      yaml("plugins:", "  echo:", "    backend: memory", "    timeouts:", "      strat: 5s"),
    ),
    ["plugins", "echo", "timeouts", "strat"],
  );
  assert.match(issue.message, /did you mean "start"\?/);
  assert.deepEqual(where(issue), { line: 5, col: 7 });
});

Deno.test("a wrong type in a plugin's own field is reported at its value", () => {
  const issues = issuesOf(
    yaml("plugins:", "  echo:", "    backend: memory", "    maxMessageLength: lots"),
  );
  assert.deepEqual(where(issueAt(issues, ["plugins", "echo", "maxMessageLength"])), {
    line: 4,
    col: 23,
  });
});

// Plugin types and instances

Deno.test("an unknown plugin type named by its instance suggests the closest type", () => {
  const issue = issueAt(issuesOf(yaml("plugins:", "  ecoh:", "    backend: memory")), [
    "plugins",
    "ecoh",
  ]);
  assert.match(issue.message, /did you mean "echo"\?/);
  assert.deepEqual(where(issue), { line: 2, col: 3 });
});

Deno.test("an unknown explicit type: is reported at the type's value", () => {
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  greeter:", "    type: ecoh", "    backend: memory")),
    ["plugins", "greeter", "type"],
  );
  assert.match(issue.message, /did you mean "echo"\?/);
  assert.deepEqual(where(issue), { line: 3, col: 11 });
});

Deno.test("an unknown plugin type resembling none gets no suggestion", () => {
  const issue = issueAt(issuesOf(yaml("plugins:", "  zzz: {}")), ["plugins", "zzz"]);
  assert.doesNotMatch(issue.message, /did you mean/);
});

Deno.test("type: defaults to the instance name", () => {
  const echo = instance(parse(yaml("plugins:", "  echo:", "    backend: memory")), "echo");
  assert.equal(echo.type, "echo");
});

Deno.test("two instances of one type run side by side under their own names", () => {
  const config = parse(yaml(
    "plugins:",
    "  a: {type: echo, backend: memory, greeting: from a}",
    "  b: {type: echo, backend: memory}",
  ));
  assert.deepEqual(config.plugins.map((p) => [p.name, p.type]), [["a", "echo"], ["b", "echo"]]);
  assert.equal((instance(config, "a").config as { greeting: string }).greeting, "from a");
  assert.equal(
    (instance(config, "b").config as { greeting: string }).greeting,
    "hello from edgebox",
  );
});

Deno.test("instances are listed in file order", () => {
  const config = parse(yaml(
    "plugins:",
    "  zeta: {type: echo, backend: memory}",
    "  alpha: {type: echo, backend: memory}",
    "  echo: {backend: memory}",
  ));
  assert.deepEqual(config.plugins.map((p) => p.name), ["zeta", "alpha", "echo"]);
});

Deno.test("a bad backend value lists the options and suggests the closest", () => {
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  kv:", "    backend: reddis"), { registry: registryOf(kvPlugin) }),
    ["plugins", "kv", "backend"],
  );
  assert.match(issue.message, /"memory"/);
  assert.match(issue.message, /"redis"/);
  assert.match(issue.message, /did you mean "redis"\?/);
  assert.deepEqual(where(issue), { line: 3, col: 14 });
});

Deno.test("a bad echo backend is reported at the backend's value", () => {
  const issue = issueAt(issuesOf(yaml("plugins:", "  echo:", "    backend: memroy")), [
    "plugins",
    "echo",
    "backend",
  ]);
  assert.match(issue.message, /"memory"/);
  assert.deepEqual(where(issue), { line: 3, col: 14 });
});

Deno.test("a missing backend is an error at the block that lacks it, listing the options", () => {
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  kv: {}"), { registry: registryOf(kvPlugin) }),
    ["plugins", "kv", "backend"],
  );
  assert.match(issue.message, /"memory"/);
  assert.match(issue.message, /"redis"/);
  assert.deepEqual(where(issue), { line: 2, col: 7 });
});

Deno.test("the fields of the chosen backend are validated", () => {
  const registry = registryOf(kvPlugin);
  const issue = issueAt(
    issuesOf(yaml("plugins:", "  kv:", "    backend: redis", "    ur: redis://x"), { registry }),
    ["plugins", "kv", "ur"],
  );
  assert.match(issue.message, /did you mean "url"\?/);
  assert.deepEqual(where(issue), { line: 4, col: 5 });
});

Deno.test("enabled: false instances are kept but flagged", () => {
  const config = parse(yaml(
    "plugins:",
    "  a: {type: echo, backend: memory, enabled: false}",
    "  b: {type: echo, backend: memory}",
  ));
  assert.deepEqual(config.plugins.map((p) => [p.name, p.enabled]), [["a", false], ["b", true]]);
});

Deno.test("a disabled instance is still validated", () => {
  const issues = issuesOf(
    yaml("plugins:", "  echo:", "    enabled: false", "    backend: memory", "    greting: x"),
  );
  assert.deepEqual(where(issueAt(issues, ["plugins", "echo", "greting"])), { line: 5, col: 5 });
});

Deno.test("an instance name that is not lowercase is an error at plugins.<name>", () => {
  const issues = issuesOf(yaml("plugins:", "  Echo:", "    type: echo", "    backend: memory"));
  const issue = issueAt(issues, ["plugins", "Echo"]);
  assert.deepEqual(where(issue), { line: 2, col: 3 }, "points at the key, not its block");
  assert.match(issue.message, /lowercase/, "carries the naming rule");
});

Deno.test("plugins: must be a mapping of instance names to blocks", () => {
  const issues = issuesOf(yaml("plugins:", "  - echo"));
  assert.deepEqual(where(issueAt(issues, ["plugins"])), { line: 2, col: 3 });
});

// Dependencies

const needsKv = testPlugin("app", ["kv"]);
const kvProvider = testPlugin("kv");

Deno.test("a plugin whose required type is present passes", () => {
  const config = parse(yaml("plugins:", "  app: {}", "  kv: {}"), {
    registry: registryOf(needsKv, kvProvider),
  });
  assert.deepEqual(config.plugins.map((p) => p.name), ["app", "kv"]);
});

Deno.test("a plugin that requires a missing type is a config error at the instance", () => {
  const issues = issuesOf(yaml("plugins:", "  app: {}"), {
    registry: registryOf(needsKv, kvProvider),
  });
  assert.equal(issues.length, 1);
  const issue = issueAt(issues, ["plugins", "app"]);
  assert.match(issue.message, /"kv"/);
  assert.deepEqual(where(issue), { line: 2, col: 3 });
});

Deno.test("a required type whose only instance is disabled counts as missing", () => {
  const issues = issuesOf(
    yaml("plugins:", "  app: {}", "  kv: {enabled: false}"),
    { registry: registryOf(needsKv, kvProvider) },
  );
  assert.deepEqual(where(issueAt(issues, ["plugins", "app"])), { line: 2, col: 3 });
});

Deno.test("a disabled plugin's own requirements are not checked", () => {
  const config = parse(yaml("plugins:", "  app: {enabled: false}"), {
    registry: registryOf(needsKv, kvProvider),
  });
  assert.equal(instance(config, "app").enabled, false);
});

Deno.test("a requirement is met by an instance of that type under another name", () => {
  const config = parse(
    yaml("plugins:", "  app: {}", "  sessions: {type: kv}"),
    { registry: registryOf(needsKv, kvProvider) },
  );
  assert.deepEqual(config.plugins.map((p) => p.name), ["app", "sessions"]);
});

Deno.test("a dependency cycle is a config error naming the cycle at its first instance", () => {
  const registry = registryOf(testPlugin("a", ["b"]), testPlugin("b", ["a"]));
  const issues = issuesOf(yaml("plugins:", "  a: {}", "  b: {}"), { registry });
  assert.equal(issues.length, 1);
  const issue = issueAt(issues, ["plugins", "a"]);
  assert.match(issue.message, /a -> b -> a/);
  assert.deepEqual(where(issue), { line: 2, col: 3 });
});

Deno.test("a plugin requiring its own type is not a cycle", () => {
  const registry = registryOf(testPlugin("selfish", ["selfish"]));
  assert.equal(parse(yaml("plugins:", "  selfish: {}"), { registry }).plugins.length, 1);
});

// YAML syntax

Deno.test("a YAML syntax error is reported at its line:col with an empty path", () => {
  const issues = issuesOf(yaml("server:", "  port: 8080", "  host: a: b"));
  assert.equal(issues.length, 1);
  assert.deepEqual(issues[0]!.path, []);
  assert.deepEqual(where(issues[0]!), { line: 3, col: 9 });
});

Deno.test("a tab used for indentation is a syntax error at its line", () => {
  const issues = issuesOf("server:\n\tport: 8080\n");
  assert.deepEqual(issues[0]!.path, []);
  assert.deepEqual(where(issues[0]!), { line: 2, col: 1 });
});

Deno.test("a duplicate key is an error at its second occurrence", () => {
  const issues = issuesOf(yaml("server:", "  port: 8080", "  host: 0.0.0.0", "  port: 9090"));
  assert.equal(issues.length, 1);
  assert.deepEqual(issues[0]!.path, []);
  assert.deepEqual(where(issues[0]!), { line: 4, col: 3 });
});

Deno.test("a duplicate section is an error at its second occurrence", () => {
  const issues = issuesOf(yaml("log: {}", "server: {}", "log: {}"));
  assert.deepEqual(where(issues[0]!), { line: 3, col: 1 });
});

Deno.test("a file that is not a mapping is an error at 1:1", () => {
  const issues = issuesOf(yaml("- server", "- log"));
  assert.equal(issues.length, 1);
  assert.deepEqual(issues[0]!.path, []);
  assert.deepEqual(where(issues[0]!), { line: 1, col: 1 });
});

// Reporting

Deno.test("formatIssue prints FILE:LINE:COL path.to.field: message", () => {
  const text = formatIssue("config/edgebox.yaml", {
    path: ["plugins", "cache", "timeouts", "start"],
    message: "Expected a duration",
    line: 12,
    col: 7,
  });
  assert.equal(text, "config/edgebox.yaml:12:7 plugins.cache.timeouts.start: Expected a duration");
});

Deno.test("formatIssue writes list indexes as path segments", () => {
  const text = formatIssue("f.yaml", {
    path: ["auth", "keys", 0, "key"],
    message: "Too short",
    line: 4,
    col: 12,
  });
  assert.equal(text, "f.yaml:4:12 auth.keys.0.key: Too short");
});

Deno.test("formatIssue writes (file) for an issue without a path", () => {
  const text = formatIssue("f.yaml", {
    path: [],
    message: "Map keys must be unique",
    line: 3,
    col: 1,
  });
  assert.equal(text, "f.yaml:3:1 (file): Map keys must be unique");
});

Deno.test("a ConfigError's message has one formatted line per issue", () => {
  try {
    parse(yaml("server:", "  prot: 8080", '  port: "abc"'));
    assert.fail("expected the config to be refused");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.name, "ConfigError");
    assert.deepEqual(
      error.message.split("\n"),
      error.issues.map((issue) => formatIssue(FILE, issue)),
    );
    assert.equal(error.issues.length, 2);
  }
});

// Files

Deno.test("loadConfigFile on a missing file is a ConfigError at 1:1 naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/absent.yaml`;
  try {
    await assert.rejects(loadConfigFile(file, { registry: builtinPlugins }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.file, file);
      assert.equal(error.issues.length, 1);
      assert.deepEqual(error.issues[0]!.path, []);
      assert.deepEqual(where(error.issues[0]!), { line: 1, col: 1 });
      assert.match(error.issues[0]!.message, /no such file/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfigFile reads and validates a file from disk", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      file,
      yaml("server:", "  port: ${PORT}", "plugins:", "  echo: {backend: memory}"),
    );
    const config = await loadConfigFile(file, {
      registry: builtinPlugins,
      env: envOf({ PORT: "7000" }),
    });
    assert.equal(config.server.port, 7000);
    assert.deepEqual(config.plugins.map((p) => p.name), ["echo"]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("loadConfigFile names the file in the issues it reports", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, yaml("server:", "  prot: 8080"));
    await assert.rejects(loadConfigFile(file, { registry: builtinPlugins }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.file, file);
      assert.ok(error.message.startsWith(`${file}:2:3 server.prot: `), error.message);
      return true;
    });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("the committed config/edgebox.yaml is valid with the built-in plugins", async () => {
  const url = new URL("../../config/edgebox.yaml", import.meta.url);
  const config = parseConfig(await Deno.readTextFile(url), {
    file: "config/edgebox.yaml",
    registry: builtinPlugins,
    env: envOf(),
  });
  assert.ok(config.plugins.length > 0);
  assert.equal(config.server.host, "127.0.0.1");
});

Deno.test("an unset variable is reported once, not again as a wrong type", () => {
  const issues = issuesOf(yaml("server:", "  port: ${NOPE}"));
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.deepEqual(issueAt(issues, ["server", "port"]).path, ["server", "port"]);
});

Deno.test("an unquoted all-digit variable stays a string where the schema wants a string", () => {
  const config = parse(
    yaml("auth:", "  keys:", "    - name: ci", "      key: ${CI_KEY}"),
    { env: { CI_KEY: "1234567890123456" } },
  );
  assert.equal(config.auth.keys[0]?.key, "1234567890123456");
});

Deno.test("an escaped brace in a default loses its backslash", () => {
  const config = parse(yaml("server:", "  host: ${NOPE:-a\\}b}"));
  assert.equal(config.server.host, "a}b");
});

Deno.test("a nested reference in a default is refused rather than kept as text", () => {
  const issues = issuesOf(yaml("server:", "  host: ${NOPE:-${X}}"), { env: { X: "x" } });
  issueAt(issues, ["server", "host"]);
});

Deno.test("a missing dependency is reported alongside other problems", () => {
  const registry: PluginRegistry = new Map([["needs", testPlugin("needs", ["absent"])]]);
  const issues = issuesOf(yaml("server:", "  prot: 1", "plugins:", "  needs: {}"), { registry });
  issueAt(issues, ["server", "prot"]);
  issueAt(issues, ["plugins", "needs"]);
});

Deno.test("a required instance cannot depend on an optional one", () => {
  const registry: PluginRegistry = new Map([
    ["db", testPlugin("db")],
    ["api", testPlugin("api", ["db"])],
  ]);
  const issues = issuesOf(
    yaml("plugins:", "  db:", "    required: false", "  api: {}"),
    { registry },
  );
  assert.deepEqual(where(issueAt(issues, ["plugins", "api"])), { line: 4, col: 3 });
});

Deno.test("a rate-limit store that names no enabled instance is an error", () => {
  const issues = issuesOf(
    yaml(
      "server:",
      "  rateLimit:",
      "    store: cahce",
      "    rules: [{ prefix: /v1/, limit: 10, window: 1m }]",
      "plugins:",
      "  echo: { backend: memory }",
    ),
  );
  assert.deepEqual(where(issueAt(issues, ["server", "rateLimit", "store"])), { line: 3, col: 12 });
});
