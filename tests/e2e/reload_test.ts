/**
 * Hot reload, black-box: the real process keeps answering a loop of requests across every plugin
 * while its config file changes twice, refuses bad files without changing anything, and reloads
 * on SIGHUP and on a change of the file under `--watch-config`.
 */
import assert from "node:assert/strict";
import { configYaml, waitFor } from "../_helpers.ts";
import { type EdgeboxProcess, spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

const ADMIN = "admin-key-0123456789abcdef";
const keyOf = (name: string) => `${name}-key-0123456789abcdef`;

/** Every plugin on an embedded backend that holds no data file, plus a spare echo to remove. */
function config(
  options: {
    greeting?: string;
    maxEntries?: number;
    keys?: string[];
    extra?: Record<string, Record<string, unknown>>;
    spare?: boolean;
    storageRoot: string;
  },
): string {
  return configYaml({
    echo: { greeting: options.greeting ?? "one", healthInterval: "5s" },
    cache: { maxEntries: options.maxEntries ?? 1_000, healthInterval: "5s" },
    graph: { labels: ["Feature"], relationships: ["DEPENDS_ON"], healthInterval: "5s" },
    messaging: {
      streams: [{ name: "events", subjects: ["events.>"], storage: "memory" }],
      healthInterval: "5s",
    },
    storage: { backend: "filesystem", root: options.storageRoot, healthInterval: "5s" },
    ...(options.spare === false ? {} : { spare: { type: "echo", healthInterval: "5s" } }),
    ...options.extra,
  }, {
    auth: {
      keys: [
        { name: "admin", key: ADMIN, scopes: ["*"] },
        ...(options.keys ?? ["beta"]).map((name) => ({
          name,
          key: keyOf(name),
          scopes: ["echo:read"],
        })),
      ],
    },
  });
}

/** A config file and the edgebox serving it. */
async function start(
  text: string,
  extraArgs: string[] = [],
): Promise<{ edgebox: EdgeboxProcess; file: string } & AsyncDisposable> {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, text);
  const edgebox = await spawnEdgebox({
    args: ["serve", "--config", file, "--port", "0", ...extraArgs],
  });
  await waitForStatus(`${edgebox.url}/ready`, 200);
  return {
    edgebox,
    file,
    async [Symbol.asyncDispose]() {
      edgebox.kill("SIGTERM");
      assert.equal((await edgebox.exited()).code, 0);
      await Deno.remove(file);
    },
  };
}

function admin(url: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, ...init.headers },
  });
}

// deno-lint-ignore no-explicit-any
async function reload(url: string): Promise<{ status: number; body: any }> {
  const response = await admin(url, "/admin/reload", { method: "POST" });
  return { status: response.status, body: await response.json() };
}

/** The `msg` and fields of every JSON log line so far. */
function logLines(edgebox: EdgeboxProcess): Record<string, unknown>[] {
  return edgebox.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

Deno.test("a reload under load changes settings, adds and removes instances and rotates a key with no unintended non-2xx", async () => {
  await using storage = {
    path: await Deno.makeTempDir(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using served = await start(config({ storageRoot: storage.path }));
  const { url } = served.edgebox;

  /** What each kind of request answered, in order. */
  const seen: Record<string, number[]> = {};
  const record = (kind: string, status: number) => (seen[kind] ??= []).push(status);
  let running = true;
  const requests: [string, () => Promise<Response>][] = [
    ["echo", () => admin(url, "/v1/echo")],
    ["cache.put", () => admin(url, "/v1/cache/keys/k", { method: "PUT", body: "v" })],
    ["cache.get", () => admin(url, "/v1/cache/keys/k")],
    [
      "graph.put",
      () =>
        admin(url, "/v1/graph/nodes/Feature/f1", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: '{"name":"f"}',
        }),
    ],
    ["graph.get", () => admin(url, "/v1/graph/nodes/Feature/f1")],
    ["publish", () => admin(url, "/v1/messaging/publish/events.a", { method: "POST", body: "m" })],
    ["storage.put", () => admin(url, "/v1/storage/objects/o", { method: "PUT", body: "o" })],
    ["storage.get", () => admin(url, "/v1/storage/objects/o")],
    ["spare", () => admin(url, "/v1/spare")],
    [
      "beta",
      () => fetch(`${url}/v1/echo`, { headers: { authorization: `Bearer ${keyOf("beta")}` } }),
    ],
  ];
  const deadline = Date.now() + 30_000;
  const worker = async (offset: number) => {
    for (let i = offset; running && Date.now() < deadline; i++) {
      const [kind, send] = requests[i % requests.length]!;
      try {
        const response = await send();
        await response.body?.cancel();
        record(kind, response.status);
      } catch {
        record(kind, 0); // no answer at all: never intended
      }
    }
  };
  const workers = [0, 3, 6].map(worker);
  await using _load = {
    async [Symbol.asyncDispose]() {
      running = false;
      await Promise.all(workers);
    },
  };
  const kinds = requests.map(([kind]) => kind);
  const enough = (n: number) => () => kinds.every((kind) => (seen[kind]?.length ?? 0) >= n);
  await waitFor(enough(5), "every kind of request to be answered", 20_000);

  // First: a plugin's settings change, an instance is added.
  await Deno.writeTextFile(
    served.file,
    config({
      storageRoot: storage.path,
      greeting: "two",
      extra: { extra: { type: "echo", greeting: "added" } },
    }),
  );
  const first = await reload(url);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.generation, 2);
  assert.equal(first.body.instances.echo, "changed");
  assert.equal(first.body.instances.extra, "added");
  assert.equal(first.body.instances.cache, "unchanged");
  assert.equal((await (await admin(url, "/v1/echo")).json()).greeting, "two");
  assert.equal((await (await admin(url, "/v1/extra")).json()).greeting, "added");
  const marks = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.length]));
  await waitFor(
    () => Object.entries(seen).every(([k, v]) => v.length >= marks[k]! + 3),
    "more load",
  );

  // Second: an instance is removed, a key rotated (beta out, gamma in), another plugin changed.
  await Deno.writeTextFile(
    served.file,
    config({
      storageRoot: storage.path,
      greeting: "two",
      maxEntries: 2_000,
      keys: ["gamma"],
      spare: false,
      extra: { extra: { type: "echo", greeting: "added" } },
    }),
  );
  // The cache's settings change: its memory backend's next generation starts empty, so a GET
  // between the swap and the next PUT is an intended 404, from here on only.
  const cacheChanged = seen["cache.get"]!.length;
  const second = await reload(url);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.generation, 3);
  assert.deepEqual(second.body.core, ["auth"]);
  assert.equal(second.body.instances.spare, "removed");
  assert.equal(second.body.instances.cache, "changed");
  assert.equal(second.body.instances.echo, "unchanged");
  const gamma = await fetch(`${url}/v1/echo`, {
    headers: { authorization: `Bearer ${keyOf("gamma")}` },
  });
  assert.equal(gamma.status, 200, "the new key works");
  await gamma.body?.cancel();
  const after = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.length]));
  await waitFor(
    () => Object.entries(seen).every(([k, v]) => v.length >= after[k]! + 3),
    "more load",
  );
  await _load[Symbol.asyncDispose]();

  for (const [kind, statuses] of Object.entries(seen)) {
    if (kind === "spare" || kind === "beta") continue;
    const bad = statuses.filter((s, i) =>
      (s < 200 || s > 299) && !(kind === "cache.get" && s === 404 && i >= cacheChanged)
    );
    assert.deepEqual(bad, [], `${kind}: every answer is 2xx (${statuses.length} requests)`);
  }
  // The removed instance answers 200 until it is removed, then 404; the rotated key 200, then 401.
  for (const [kind, gone] of [["spare", 404], ["beta", 401]] as const) {
    const statuses = seen[kind]!;
    const cut = statuses.indexOf(gone);
    assert.ok(cut > 0, `${kind} answered 200 first, then ${gone}`);
    assert.deepEqual([...new Set(statuses.slice(0, cut))], [200], `${kind} before the reload`);
    assert.deepEqual([...new Set(statuses.slice(cut))], [gone], `${kind} after the reload`);
  }
  const plugins = await (await admin(url, "/plugins")).json();
  const generations = Object.fromEntries(
    plugins.plugins.map((p: { name: string; generation: number }) => [p.name, p.generation]),
  );
  assert.deepEqual(generations, {
    echo: 2,
    cache: 3,
    graph: 1,
    messaging: 1,
    storage: 1,
    extra: 2,
  });
});

Deno.test("a bad reload keeps the old config serving and its answer names the problems", async () => {
  const path = await Deno.makeTempDir();
  await using storage = {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
  const good = config({ storageRoot: storage.path });
  await using served = await start(good);
  const { url } = served.edgebox;
  const put = await admin(url, "/v1/cache/keys/kept", { method: "PUT", body: "1" });
  await put.body?.cancel();
  assert.equal(put.status, 201);

  // A syntax error, then an unknown key: 400, with the lines `edgebox check` prints.
  await Deno.writeTextFile(served.file, good.replace("plugins:", "plugins: [\n"));
  const syntax = await reload(url);
  assert.equal(syntax.status, 400);
  assert.equal(syntax.body.code, "core.config_invalid");
  assert.match(syntax.body.problems[0], new RegExp(`^${served.file}:\\d+:\\d+ `));

  await Deno.writeTextFile(served.file, good.replace("greeting: one", "greting: one"));
  const unknown = await reload(url);
  assert.equal(unknown.status, 400);
  assert.ok(
    unknown.body.problems.some((p: string) =>
      /plugins\.echo\.greting: Unknown key "greting"; did you mean "greeting"\?/.test(p)
    ),
    JSON.stringify(unknown.body.problems),
  );

  // A backend nobody listens on: the new instance fails to start, the old one keeps serving.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await Deno.writeTextFile(
    served.file,
    configYaml({
      echo: { greeting: "one" },
      cache: {
        backend: "redis",
        url: `redis://127.0.0.1:${port}`,
        connectTimeout: "300ms",
        startAttempts: 1,
        timeouts: { start: "1s" },
      },
      graph: { labels: ["Feature"], relationships: ["DEPENDS_ON"] },
      messaging: { streams: [{ name: "events", subjects: ["events.>"], storage: "memory" }] },
      storage: { backend: "filesystem", root: storage.path },
      spare: { type: "echo" },
    }, {
      auth: {
        keys: [{ name: "admin", key: ADMIN, scopes: ["*"] }, {
          name: "beta",
          key: keyOf("beta"),
          scopes: ["echo:read"],
        }],
      },
    }),
  );
  const unreachable = await reload(url);
  assert.equal(unreachable.status, 200, JSON.stringify(unreachable.body));
  assert.equal(unreachable.body.instances.cache, "failed");
  assert.match(unreachable.body.failures.cache, /Cannot start plugin "cache" \(cache, redis\)/);

  const kept = await admin(url, "/v1/cache/keys/kept");
  assert.equal(kept.status, 200, "the old cache still serves, with its data");
  assert.equal(await kept.text(), "1");
  const plugins = await (await admin(url, "/plugins")).json();
  const cache = plugins.plugins.find((p: { name: string }) => p.name === "cache");
  assert.equal(cache.backend, "memory");
  assert.equal(cache.generation, 1);
  await waitForStatus(`${url}/ready`, 200);
});

Deno.test("SIGHUP reloads the file", async () => {
  await using storage = {
    path: await Deno.makeTempDir(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using served = await start(config({ storageRoot: storage.path }));
  const { url } = served.edgebox;
  const greeting = async () => (await (await admin(url, "/v1/echo")).json()).greeting;
  await Deno.writeTextFile(served.file, config({ storageRoot: storage.path, greeting: "hup" }));
  assert.equal(await greeting(), "one", "nothing reloads by itself without --watch-config");

  served.edgebox.kill("SIGHUP");

  await waitFor(async () => await greeting() === "hup", "the SIGHUP reload", 15_000);
  const reloaded = () => logLines(served.edgebox).find((l) => l.msg === "config reloaded");
  await waitFor(() => reloaded() !== undefined, "the reload's log line");
  assert.equal(reloaded()!.trigger, "SIGHUP");
  assert.equal(reloaded()!.generation, 2);
});

Deno.test("--watch-config reloads the file when it changes", async () => {
  await using storage = {
    path: await Deno.makeTempDir(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using served = await start(config({ storageRoot: storage.path }), ["--watch-config"]);
  const { url } = served.edgebox;
  const greeting = async () => (await (await admin(url, "/v1/echo")).json()).greeting;

  await Deno.writeTextFile(served.file, config({ storageRoot: storage.path, greeting: "watched" }));

  await waitFor(async () => await greeting() === "watched", "the watcher to reload", 15_000);
  const reloaded = () => logLines(served.edgebox).find((l) => l.msg === "config reloaded");
  await waitFor(() => reloaded() !== undefined, "the reload's log line");
  assert.equal(reloaded()!.trigger, "watch");
});
