/** Black-box tests of `edgebox serve`: the real process, over real HTTP, with real signals. */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers.ts";
import { family, parseMetrics, valueOf } from "../plugins/_observability_helpers.ts";
import {
  runEdgebox,
  spawnEdgebox,
  startTaskPermissions,
  waitForStatus,
} from "./_edgebox_process.ts";

async function withConfig<T>(yaml: string, fn: (file: string) => Promise<T>): Promise<T> {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, yaml);
    return await fn(file);
  } finally {
    await Deno.remove(file);
  }
}

/** Waits until the server handles `count` requests besides the scrape that asks. */
async function waitForInFlight(url: string, count: number): Promise<void> {
  await waitFor(async () => {
    const families = parseMetrics(await (await fetch(`${url}/metrics`)).text());
    return (valueOf(families, "http_requests_in_flight") ?? 0) >= count + 1;
  }, `${count} request(s) in flight at ${url}`);
}

/** The `msg` of every log line the process wrote so far (plain lines as they are). */
function messagesOf(edgebox: { lines: string[] }): string[] {
  return edgebox.lines.map((line) => line.startsWith("{") ? JSON.parse(line).msg : line);
}

Deno.test("serve with the built-in config becomes ready and answers the core routes", async () => {
  const edgebox = await spawnEdgebox();
  try {
    const report = await waitForStatus(`${edgebox.url}/ready`, 200);
    assert.equal(report.plugins.echo.state, "ready");
    const health = await fetch(`${edgebox.url}/health`);
    assert.deepEqual(await health.json(), { status: "ok" });
    const missing = await fetch(`${edgebox.url}/nowhere`, { headers: { "x-request-id": "e2e-1" } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), "application/problem+json");
    assert.equal((await missing.json()).requestId, "e2e-1");
  } finally {
    edgebox.kill();
    assert.equal((await edgebox.exited()).code, 0);
  }
});

Deno.test(
  "with deno task start's permissions, process metrics are real or absent, never a made-up 0",
  async () => {
    const permissions = await startTaskPermissions();
    assert.ok(!permissions.includes("--allow-all"), "the start task grants narrow permissions");
    const edgebox = await spawnEdgebox({ permissions });
    try {
      await waitForStatus(`${edgebox.url}/ready`, 200);
      const families = parseMetrics(await (await fetch(`${edgebox.url}/metrics`)).text());

      assert.ok(valueOf(families, "process_resident_memory_bytes")! > 1_000_000);
      assert.ok(valueOf(families, "process_cpu_seconds_total")! > 0);
      for (const name of ["process_open_fds", "process_max_fds", "edgebox_open_sockets"]) {
        if (family(families, name)) assert.ok(valueOf(families, name)! > 0, `${name} is > 0`);
      }
    } finally {
      edgebox.kill();
      assert.equal((await edgebox.exited()).code, 0);
    }
  },
);

Deno.test("SIGTERM lets an in-flight request complete, then exits 0", async () => {
  const edgebox = await spawnEdgebox();
  await waitForStatus(`${edgebox.url}/ready`, 200);
  const slow = fetch(`${edgebox.url}/v1/echo/delay?ms=1500`);
  await waitForInFlight(edgebox.url, 1);
  edgebox.kill("SIGTERM");
  const response = await slow;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { waitedMs: 1500 });
  const status = await edgebox.exited();
  assert.equal(status.code, 0);
  const messages = messagesOf(edgebox);
  assert.ok(messages.includes("shutting down"), "logs the start of the shutdown");
  assert.ok(messages.includes("stopped"), "logs the end of the shutdown");
});

Deno.test("a second signal during shutdown exits at once with code 1", async () => {
  const edgebox = await spawnEdgebox();
  await waitForStatus(`${edgebox.url}/ready`, 200);
  const slow = fetch(`${edgebox.url}/v1/echo/delay?ms=20000`).catch(() => undefined);
  await waitForInFlight(edgebox.url, 1);
  edgebox.kill("SIGTERM");
  await waitFor(() => messagesOf(edgebox).includes("shutting down"), "the shutdown to begin");
  edgebox.kill("SIGTERM");
  const status = await edgebox.exited();
  assert.equal(status.code, 1);
  await slow;
});

Deno.test("a required plugin that cannot start makes serve exit 1 with one clear line", async () => {
  await withConfig(
    `plugins:
  echo:
    backend: memory
    connectDelay: 10s
    startAttempts: 1
    timeouts: { start: 100ms }
`,
    async (file) => {
      const result = await runEdgebox({ args: ["serve", "--config", file, "--port", "0"] });
      assert.equal(result.code, 1);
      const fatal = result.stderr.split("\n").filter((line) => line.startsWith("edgebox: "));
      assert.equal(fatal.length, 1);
      assert.match(fatal[0]!, /Cannot start plugin "echo"/);
    },
  );
});

Deno.test("listening beyond loopback without API keys is refused before binding", async () => {
  const result = await runEdgebox({ args: ["serve", "--host", "0.0.0.0", "--port", "0"] });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /auth\.mode: none/);
  assert.doesNotMatch(result.stderr, /"msg":"listening"/);
});

Deno.test("an explicit auth mode none may listen beyond loopback", async () => {
  await withConfig(
    "auth: { mode: none }\nplugins: { echo: { backend: memory } }\n",
    async (file) => {
      const edgebox = await spawnEdgebox({
        args: ["serve", "--config", file, "--host", "0.0.0.0", "--port", "0"],
      });
      try {
        const port = new URL(edgebox.url).port;
        await waitForStatus(`http://127.0.0.1:${port}/ready`, 200);
      } finally {
        edgebox.kill();
        assert.equal((await edgebox.exited()).code, 0);
      }
    },
  );
});

Deno.test("an invalid config file makes serve exit 1 with file:line:col problems", async () => {
  await withConfig("server:\n  prot: 8080\n", async (file) => {
    const result = await runEdgebox({ args: ["serve", "--config", file] });
    assert.equal(result.code, 1);
    assert.ok(
      result.stderr.includes(`${file}:2:3 server.prot: Unknown key "prot"; did you mean "port"?`),
      result.stderr,
    );
  });
});
