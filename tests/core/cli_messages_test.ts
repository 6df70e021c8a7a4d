/**
 * What a newcomer reads from the command line: `check` on an empty file, syntax errors at the
 * line they were written on, choice errors that name the value, an unknown flag with a "did you
 * mean", `probe` saying what answered (or why nothing did), a compact `plugins` listing, and
 * backend causes in words (`connection refused to host:port`).
 */
import assert from "node:assert/strict";
import { main } from "../../core/cli.ts";
import { describeCause, networkCause } from "../../core/cause.ts";
import { RedisCache } from "../../plugins/cache/redis.ts";
import { builtinPlugins } from "../../plugins/mod.ts";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

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

async function check(text: string): Promise<CliResult & { file: string }> {
  const file = await Deno.makeTempFile({ prefix: "edgebox-check-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, text);
    return { ...await cli("check", "--config", file), file };
  } finally {
    await Deno.remove(file);
  }
}

/** A port nothing listens on (just released by this process). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("check refuses an empty file instead of calling it ok", async () => {
  for (const text of ["", "\n\n", "# only a comment\n"]) {
    const { code, stdout, stderr, file } = await check(text);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.ok(stderr.startsWith(`${file}:1:1 `), stderr);
    assert.match(stderr, /empty/);
  }
});

Deno.test("check warns when a valid config enables no plugin", async () => {
  const { code, stdout, stderr } = await check("log:\n  level: info\n");
  assert.equal(code, 0);
  assert.match(stdout, /ok \(no plugins\)/);
  assert.match(stderr, /warning: no plugin is enabled/);
});

Deno.test("a line indented too deep is reported on that line, not the one above", async () => {
  const { code, stderr, file } = await check("server:\n  host: 127.0.0.1\n   port: 8080\n");
  assert.equal(code, 1);
  assert.deepEqual(stderr.split("\n").map((line) => line.split(" ")[0]), [`${file}:3:4`]);
});

Deno.test("an unclosed quote or bracket is reported where it opens", async () => {
  const quote = await check('server:\n  host: "127.0.0.1\n  port: 8080\n');
  assert.ok(quote.stderr.startsWith(`${quote.file}:2:9 `), quote.stderr);
  const bracket = await check("log:\n  skipPaths: [/health, /ready\n  level: info\n");
  assert.ok(bracket.stderr.startsWith(`${bracket.file}:2:14 `), bracket.stderr);
});

Deno.test("a wrong choice names the value and hints only a different one", async () => {
  const { stderr } = await check(
    "plugins:\n  echo:\n    backend: memroy\n  cache:\n    backend: Memory\n" +
      "  storage:\n    backend: redis\n",
  );
  const lines = stderr.split("\n");
  assert.match(
    lines[0]!,
    /plugins\.echo\.backend: Expected "memory", got "memroy"; did you mean "memory"\?$/,
  );
  assert.match(
    lines[1]!,
    /plugins\.cache\.backend: Expected one of .*"memory".*, got "Memory"; did you mean "memory"\?$/,
  );
  assert.match(
    lines[2]!,
    /plugins\.storage\.backend: Expected one of "s3", "filesystem", got "redis"$/,
  );
  assert.doesNotMatch(stderr, /Expected one of "memory";/);
});

Deno.test("an unknown flag is one clean line with a did-you-mean, exit 2", async () => {
  const { code, stderr } = await cli("serve", "--conifg", "x.yaml");
  assert.equal(code, 2);
  const first = stderr.split("\n")[0]!;
  assert.equal(first, 'edgebox: Unknown option "--conifg"; did you mean "--config"?');
  const missing = await cli("check", "--config");
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.split("\n")[0], "edgebox: Option --config needs a value");
});

Deno.test("probe prints the status of a non-2xx answer", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("down", { status: 503 }),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/ready`;
    const { code, stderr } = await cli("probe", url);
    assert.equal(code, 1);
    assert.equal(stderr, `edgebox: probe ${url}: 503 Service Unavailable`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("probe says the connection was refused on a closed port", async () => {
  const port = closedPort();
  const { code, stderr } = await cli("probe", `http://127.0.0.1:${port}/health`);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /failed: connection refused \(is edgebox listening on 127\.0\.0\.1:\d+\?\)$/,
  );
  assert.doesNotMatch(stderr, /fetch failed/);
});

Deno.test("plugins lists each type in a few lines, without the JSON Schema", async () => {
  const { code, stdout } = await cli("plugins");
  assert.equal(code, 0);
  const lines = stdout.split("\n");
  assert.ok(lines.length < 10 * builtinPlugins.length, `${lines.length} lines`);
  assert.doesNotMatch(stdout, /[{}]/);
  assert.ok(!lines.some((line) => /^\s*backends:\s*$/.test(line)), "an empty backends line");
  for (const plugin of builtinPlugins) {
    assert.ok(lines.some((line) => line.startsWith(`${plugin.type}: `)), plugin.type);
  }
});

Deno.test("a network error is described by its cause, wherever it sits in the chain", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), {
    code: "ECONNREFUSED",
    address: "127.0.0.1",
    port: 6379,
  });
  assert.equal(networkCause(refused), "connection refused to 127.0.0.1:6379");
  assert.equal(
    describeCause(new Error("wrapped", { cause: new AggregateError([refused]) })),
    "connection refused to 127.0.0.1:6379",
  );
  assert.equal(
    describeCause(
      new TypeError("fetch failed", {
        cause: new Error("tcp connect error: Connection refused (os error 111)"),
      }),
    ),
    "connection refused",
  );
  assert.equal(describeCause(new Error("something else")), "something else");
});

Deno.test("a redis cache on a closed port reports the refused connection, not client internals", async () => {
  const port = closedPort();
  const cache = new RedisCache({
    url: `redis://127.0.0.1:${port}`,
    commandTimeout: 500,
    connectTimeout: 500,
    retryMaxDelay: 200,
    keyPrefix: "t:",
    limits: { maxKeyBytes: 512, maxFieldBytes: 256, maxValueSize: 1024, maxHashFields: 16 },
  });
  try {
    await assert.rejects(cache.connect());
    const health = await cache.ping();
    assert.equal(health.status, "down");
    assert.match(health.detail ?? "", new RegExp(`connection refused to 127\\.0\\.0\\.1:${port}`));
    const failure = await cache.get("k").then(() => undefined, (error: Error) => error);
    assert.ok(failure);
    assert.match(failure.message, /connection refused to/);
    assert.doesNotMatch(failure.message, /enableOfflineQueue|Stream isn't writeable/);
  } finally {
    await cache.close();
  }
});
