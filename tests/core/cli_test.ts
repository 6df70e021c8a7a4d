/** The `edgebox` command line: commands, exit codes and what they print. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { main } from "../../core/cli.ts";
import { builtinPlugins } from "../../plugins/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIG_DIR = fileURLToPath(new URL("../../config/", import.meta.url));
const SCHEMA_FILE = fileURLToPath(new URL("../../config/edgebox.schema.json", import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main(args)` in this process, capturing what it prints. */
async function cli(...args: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void stdout.push(parts.map(String).join(" "));
  console.error = (...parts: unknown[]) => void stderr.push(parts.map(String).join(" "));
  try {
    const code = await main(args, { plugins: builtinPlugins });
    return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** A temporary config file holding `text`, removed after `body`. */
async function withConfigFile<T>(text: string, body: (file: string) => Promise<T>): Promise<T> {
  const file = await Deno.makeTempFile({ prefix: "edgebox-cli-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, text);
    return await body(file);
  } finally {
    await Deno.remove(file);
  }
}

/** A server section with a typo (line 2) and a wrong type (line 3). */
const BROKEN_CONFIG = 'server:\n  prot: 8080\n  port: "abc"\n';

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

Deno.test("version exits 0 and prints the version", async () => {
  const { code, stdout } = await cli("version");
  assert.equal(code, 0);
  assert.match(stdout, /^edgebox \d+\.\d+\.\d+/);
});

Deno.test("--help exits 0 and prints usage on stdout", async () => {
  const { code, stdout } = await cli("--help");
  assert.equal(code, 0);
  assert.match(stdout, /Usage:/);
});

Deno.test("an unknown flag exits 2 and prints usage", async () => {
  const { code, stderr } = await cli("version", "--bogus");
  assert.equal(code, 2);
  assert.match(stderr, /--bogus/);
  assert.match(stderr, /Usage:/);
});

Deno.test("an unknown command exits 2, names it and prints usage", async () => {
  const { code, stderr } = await cli("frobnicate");
  assert.equal(code, 2);
  assert.match(stderr, /"frobnicate"/);
  assert.match(stderr, /Usage:/);
});

Deno.test("no command exits 2 and prints usage", async () => {
  const { code, stderr } = await cli();
  assert.equal(code, 2);
  assert.match(stderr, /Usage:/);
});

Deno.test("an extra positional argument exits 2", async () => {
  const { code, stderr } = await cli("version", "now");
  assert.equal(code, 2);
  assert.match(stderr, /"now"/);
});

Deno.test("a flag that belongs to another command exits 2", async () => {
  const { code, stderr } = await cli("version", "--json");
  assert.equal(code, 2);
  assert.match(stderr, /--json/);
});

Deno.test("check without --config exits 2", async () => {
  const { code, stderr } = await cli("check");
  assert.equal(code, 2);
  assert.match(stderr, /Usage:/);
});

Deno.test("check on a file with a typo and a wrong type exits 1 and prints both as FILE:LINE:COL path: message", async () => {
  await withConfigFile(BROKEN_CONFIG, async (file) => {
    const { code, stdout, stderr } = await cli("check", "--config", file);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    const printed = lines(stderr);
    assert.equal(printed.length, 2, stderr);
    assert.equal(printed[0], `${file}:2:3 server.prot: Unknown key "prot"; did you mean "port"?`);
    assert.ok(printed[1]!.startsWith(`${file}:3:9 server.port: `), printed[1]);
  });
});

Deno.test("check on a missing file exits 1 and names the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/absent.yaml`;
    const { code, stderr } = await cli("check", "--config", file);
    assert.equal(code, 1);
    assert.ok(stderr.startsWith(`${file}:1:1 `), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check on a valid file exits 0 and names the enabled plugins", async () => {
  const text =
    "plugins:\n  a: {type: echo, backend: memory}\n  b: {type: echo, backend: memory, enabled: false}\n";
  await withConfigFile(text, async (file) => {
    const { code, stdout, stderr } = await cli("check", "--config", file);
    assert.equal(code, 0, stderr);
    const summary = stdout.slice(file.length);
    assert.match(summary, /\ba\b/);
    assert.doesNotMatch(summary, /\bb\b/);
  });
});

Deno.test("check refuses a config that listens beyond loopback without API keys", async () => {
  await withConfigFile("server:\n  host: 0.0.0.0\n", async (file) => {
    const { code, stderr } = await cli("check", "--config", file);
    assert.equal(code, 1);
    assert.ok(stderr.startsWith(`${file}: `), stderr);
  });
});

Deno.test("check accepts a non-loopback listener when auth.mode is none", async () => {
  await withConfigFile("server:\n  host: 0.0.0.0\nauth:\n  mode: none\n", async (file) => {
    const { code, stderr } = await cli("check", "--config", file);
    assert.equal(code, 0, stderr);
  });
});

for await (const entry of Deno.readDir(CONFIG_DIR)) {
  if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
  Deno.test(`check on the committed config/${entry.name} exits 0`, async () => {
    // container.yaml refuses to start without the API key it requires; give it one.
    const hadKey = Deno.env.get("EDGEBOX_API_KEY");
    if (hadKey === undefined) Deno.env.set("EDGEBOX_API_KEY", "k".repeat(32));
    try {
      const { code, stderr } = await cli("check", "--config", `${CONFIG_DIR}${entry.name}`);
      assert.equal(code, 0, stderr);
    } finally {
      if (hadKey === undefined) Deno.env.delete("EDGEBOX_API_KEY");
    }
  });
}

Deno.test("plugins --json lists echo with its backends, requirements and a JSON schema", async () => {
  const { code, stdout } = await cli("plugins", "--json");
  assert.equal(code, 0);
  const entries = JSON.parse(stdout) as {
    type: string;
    description: string;
    backends: string[];
    requires: string[];
    schema: { type?: string; properties?: Record<string, unknown>; required?: string[] };
  }[];
  const echo = entries.find((entry) => entry.type === "echo");
  assert.ok(echo, `echo missing from ${entries.map((entry) => entry.type).join(", ")}`);
  assert.deepEqual(echo.backends, ["memory"]);
  assert.deepEqual(echo.requires, []);
  assert.ok(echo.description.length > 0);
  assert.equal(echo.schema.type, "object");
  assert.deepEqual(echo.schema.required, ["backend"]);
  for (const field of ["backend", "greeting", "enabled", "timeouts"]) {
    assert.ok(echo.schema.properties && field in echo.schema.properties, `schema lacks ${field}`);
  }
});

Deno.test("plugins --json lists every plugin type once", async () => {
  const entries = JSON.parse((await cli("plugins", "--json")).stdout) as { type: string }[];
  const types = entries.map((entry) => entry.type);
  assert.deepEqual(types, [...new Set(types)]);
});

Deno.test("plugins without --json prints each type with its backends", async () => {
  const { code, stdout } = await cli("plugins");
  assert.equal(code, 0);
  assert.match(stdout, /^echo: /m);
  assert.match(stdout, /backends: memory/);
});

Deno.test("schema prints the committed config/edgebox.schema.json", async () => {
  const { code, stdout } = await cli("schema");
  assert.equal(code, 0);
  const committed = JSON.parse(await Deno.readTextFile(SCHEMA_FILE));
  assert.deepEqual(
    JSON.parse(stdout),
    committed,
    "config/edgebox.schema.json is stale: run `deno task schema` and commit the result",
  );
});

Deno.test("schema --write writes the same schema to a file", async () => {
  const file = await Deno.makeTempFile({ prefix: "edgebox-schema-", suffix: ".json" });
  try {
    const { code, stdout } = await cli("schema", "--write", file);
    assert.equal(code, 0);
    assert.equal(stdout, "");
    const printed = JSON.parse((await cli("schema")).stdout);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), printed);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("the edgebox process exits with the code main returns and prints issues on stderr", async () => {
  await withConfigFile(BROKEN_CONFIG, async (file) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "check", "--config", file],
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    const printed = lines(stderr);
    assert.ok(printed.some((line) => line.startsWith(`${file}:2:3 server.prot: `)), stderr);
    assert.ok(printed.some((line) => line.startsWith(`${file}:3:9 server.port: `)), stderr);
  });
});
