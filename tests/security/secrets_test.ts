/**
 * Secrets never leave (OWASP API3 2023, excessive data exposure): credentials seeded into every
 * backend's config (NATS user/password, token-only URLs and server lists, Redis URL passwords,
 * the Neo4j password, the S3 secret key, the ack secret, the API key) appear in no output while
 * every backend fails: not in the start failure, `/ready`, `/plugins`, the 503 problem details,
 * a driver's error as problem+json, any log line (JSON or pretty), `/metrics`, or an exported
 * span. Backends point at closed ports, so nothing outside the process is needed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "yaml";
import { z } from "zod";
import { EdgeboxError, toProblem } from "../../core/errors.ts";
import { createLogger, type LogFormat, type Logger } from "../../core/log.ts";
import { definePlugin, type PluginDefinition, type PluginRegistry } from "../../core/plugin.ts";
import { REDACTED } from "../../core/redact.ts";
import { builtinRegistry as builtinPlugins } from "../../plugins/mod.ts";
import { createRouter } from "../../core/routes.ts";
import { withSpan } from "../../core/telemetry.ts";
import { messageOf } from "../../core/timing.ts";
import type { CacheExports } from "../../plugins/cache/mod.ts";
import type { GraphDriver } from "../../plugins/graph/driver.ts";
import type { MessagingDriver } from "../../plugins/messaging/driver.ts";
import type { StorageDriver } from "../../plugins/storage/driver.ts";
import { FAST_SETTINGS, openApp, type RunningApp, SANITIZED, waitFor } from "../_helpers.ts";
import { startOtlpReceiver } from "../plugins/_observability_helpers.ts";
import { runs } from "./_fc.ts";

/** Every secret one run seeds, each in the place a user would put it. */
interface Seeds {
  /** Passwords of the two servers of a NATS URL list. */
  natsListPasswords: [string, string];
  /** The token of a token-only NATS URL (`nats://TOKEN@host`). */
  natsUrlToken: string;
  /** The NATS `token` and `password` fields. */
  natsTokenField: string;
  natsPasswordField: string;
  /** A Redis URL's password, with a user and without one (`redis://:pw@host`). */
  redisUserPassword: string;
  redisBarePassword: string;
  neo4jPassword: string;
  s3SecretKey: string;
  /** Messaging's ack secret (at least 32 characters). */
  ackSecret: string;
  /** The API key requests carry. */
  apiKey: string;
}

/** Secrets written the ways that trip up naive redaction: URL syntax, quotes, escapes. */
const TRICKY = [
  "p@ss:w/rd?#frag",
  "a,b@c:d%40e",
  "q\"uo\\te's",
  "sp ace+plus&amp=eq",
  "[brack]ets;semi",
  "ünï©ødé-秘密",
  "nats://inner@host",
  "redacted-but-not",
];

/** Characters of generated secrets: URL-special ones among plain ones (no `{`, see below). */
const ALPHABET = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  ..."@:/?#[]!$&'()*+,;=%\"\\ -._~|^`<>",
  "é",
  "秘",
];

/**
 * A secret of 8 to 24 characters with at least three letters, so that no output can contain it
 * by chance (a metric value, an id), and without `{` so that `${` never reads as an environment
 * reference in the config file.
 */
function secret(minLength = 8): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.string({
        unit: fc.constantFrom(...ALPHABET),
        minLength,
        maxLength: minLength + 16,
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...TRICKY) },
  ).filter((s) => s.length >= minLength && (s.match(/[A-Za-z]/g) ?? []).length >= 3);
}

/** An API key: printable ASCII a header can carry, at least 16 characters. */
const apiKey = fc.string({
  unit: fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=!@#%^&*",
  ),
  minLength: 16,
  maxLength: 40,
}).filter((s) => (s.match(/[A-Za-z]/g) ?? []).length >= 3);

const seeds: fc.Arbitrary<Seeds> = fc.uniqueArray(secret(), { minLength: 9, maxLength: 9 })
  .chain((values) =>
    fc.record({
      values: fc.constant(values),
      ackSecret: secret(32).map((s) => s.padEnd(32, "Z")).filter((s) => !values.includes(s)),
      apiKey: apiKey.filter((k) => !values.some((v) => v.includes(k) || k.includes(v))),
    })
  )
  .filter(({ values, ackSecret }) =>
    // No secret inside another: each one's absence is then checked on its own.
    [...values, ackSecret].every((a, i, all) => all.every((b, j) => i === j || !b.includes(a)))
  )
  .map(({ values: v, ackSecret, apiKey }) => ({
    natsListPasswords: [v[0]!, v[1]!],
    natsUrlToken: v[2]!,
    natsTokenField: v[3]!,
    natsPasswordField: v[4]!,
    redisUserPassword: v[5]!,
    redisBarePassword: v[6]!,
    neo4jPassword: v[7]!,
    s3SecretKey: v[8]!,
    ackSecret,
    apiKey,
  }));

/** Every seeded secret. */
function secretsOf(s: Seeds): string[] {
  return [
    ...s.natsListPasswords,
    s.natsUrlToken,
    s.natsTokenField,
    s.natsPasswordField,
    s.redisUserPassword,
    s.redisBarePassword,
    s.neo4jPassword,
    s.s3SecretKey,
    s.ackSecret,
    s.apiKey,
  ];
}

/** The spellings of a secret an output could carry it in. */
function spellings(secret: string): string[] {
  const url = new URL("http://host");
  url.password = secret;
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      url.password,
      JSON.stringify(secret).slice(1, -1),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]),
  ];
}

const enc = encodeURIComponent;

/** Closed ports: every connection attempt is refused at once. */
const CLOSED = "127.0.0.1:1";
const CLOSED_2 = "127.0.0.1:2";

/** Fast-failing lifecycle settings of every backend block. */
const FAST = {
  required: false,
  startAttempts: 1,
  healthInterval: "50ms",
  reconnect: { initialDelay: "20ms", maxDelay: "50ms" },
  timeouts: { start: "500ms", ready: "200ms", stop: "1s" },
};

/** The plugin blocks of a run: every backend on a closed port, carrying the seeded secrets. */
function pluginBlocks(s: Seeds, otlp: string): Record<string, Record<string, unknown>> {
  const [p1, p2] = s.natsListPasswords;
  return {
    observability: {
      ...FAST,
      timeouts: { ...FAST.timeouts, stop: "5s" },
      metrics: { enabled: true, public: false },
      tracing: { enabled: true, endpoint: otlp, exportDelay: "1m" },
    },
    natslist: {
      ...FAST,
      type: "messaging",
      backend: "nats",
      url: `nats://edgebox:${enc(p1)}@${CLOSED},nats://edgebox:${enc(p2)}@${CLOSED_2}`,
      user: "edgebox",
      password: s.natsPasswordField,
      connectTimeout: "200ms",
      ackSecret: s.ackSecret,
    },
    natstoken: {
      ...FAST,
      type: "messaging",
      backend: "nats",
      url: `nats://${enc(s.natsUrlToken)}@${CLOSED}`,
      token: s.natsTokenField,
      connectTimeout: "200ms",
    },
    cache: {
      ...FAST,
      backend: "redis",
      url: `redis://edgebox:${enc(s.redisUserPassword)}@${CLOSED}/0`,
      connectTimeout: "200ms",
      commandTimeout: "100ms",
      retryMaxDelay: "50ms",
    },
    sessions: {
      ...FAST,
      type: "cache",
      backend: "redis",
      url: `redis://:${enc(s.redisBarePassword)}@${CLOSED}`,
      connectTimeout: "200ms",
      commandTimeout: "100ms",
      retryMaxDelay: "50ms",
    },
    graph: {
      ...FAST,
      backend: "neo4j",
      url: `bolt://${CLOSED}`,
      password: s.neo4jPassword,
      connectionTimeout: "200ms",
      maxRetryTime: "100ms",
      pool: { size: 2, acquisitionTimeout: "200ms" },
    },
    storage: {
      ...FAST,
      backend: "s3",
      endpoint: `http://${CLOSED}`,
      bucket: "edgebox-secrets",
      accessKeyId: "AKIAEDGEBOXTEST",
      secretAccessKey: s.s3SecretKey,
      forcePathStyle: true,
      // The AWS SDK leaves its connect timer running after a refused connection until it fires:
      // a short one has fired before the test ends (Deno's sanitizers would report it otherwise).
      connectTimeout: "20ms",
      requestTimeout: "500ms",
      maxAttempts: 1,
    },
  };
}

/** Config text: the API key and these plugin blocks. */
function configText(s: Seeds, plugins: Record<string, unknown>): string {
  return stringify({ auth: { keys: [{ name: "ci", key: s.apiKey, scopes: ["*"] }] }, plugins });
}

/** Everything the process showed during a run, labelled by where it came from. */
type Outputs = [where: string, text: string][];

/** A logger that keeps every line as written, in `format`. */
function keepingLog(format: LogFormat, outputs: Outputs): Logger {
  return createLogger({
    level: "debug",
    format,
    write: (line) => outputs.push(["log line", line]),
  });
}

/** Asserts no output carries any spelling of any seeded secret. */
function assertNoSecret(outputs: Outputs, s: Seeds): void {
  for (const secret of secretsOf(s)) {
    for (const spelled of spellings(secret)) {
      for (const [where, text] of outputs) {
        assert.ok(
          !text.includes(spelled),
          `${where} shows the secret ${JSON.stringify(spelled)}: ${text}`,
        );
      }
    }
  }
}

async function record(outputs: Outputs, where: string, response: Response): Promise<Response> {
  const body = await response.clone().text();
  outputs.push([where, `${response.status} ${[...response.headers].join(" ")} ${body}`]);
  return response;
}

/** Runs `call` as a driver operation inside a span, and keeps its error as a client sees it. */
async function failInSpan(
  running: RunningApp,
  outputs: Outputs,
  where: string,
  call: () => Promise<unknown>,
): Promise<void> {
  const error = await withSpan(running.lifecycle.telemetry, `probe ${where}`, {
    "probe.target": where,
  }, call).then(() => undefined, (error: unknown) => error);
  assert.ok(error !== undefined, `${where} should fail with its backend gone`);
  // Drivers build their messages from redacted URLs: not even the raw text quotes a secret.
  outputs.push([`${where} error message`, messageOf(error)]);
  if (error instanceof EdgeboxError) {
    outputs.push([`${where} as problem+json`, JSON.stringify(toProblem(error))]);
  }
}

Deno.test(
  "no seeded secret reaches any output while every backend fails",
  SANITIZED,
  async () => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.constantFrom<LogFormat>("json", "pretty"), async (s, format) => {
        const outputs: Outputs = [];
        await using receiver = startOtlpReceiver();
        const log = keepingLog(format, outputs);
        const auth = { authorization: `Bearer ${s.apiKey}` };
        {
          const config = configText(s, pluginBlocks(s, receiver.endpoint));
          await using running = await openApp(config, builtinPlugins, { log });
          const backends = ["natslist", "natstoken", "cache", "sessions", "graph", "storage"];
          await waitFor(
            () => backends.every((name) => running.lifecycle.get(name)?.state === "degraded"),
            "every backend to be degraded",
          );
          // The Redis client reports its own failed reconnects to the log.
          await waitFor(
            () => outputs.some(([, line]) => line.includes("redis connection lost")),
            "the Redis client to report its lost connection",
          );

          const ready = await record(outputs, "GET /ready", await running.request("/ready"));
          // Optional plugins that are down leave the process ready; the report still says why.
          assert.equal(ready.status, 200);
          const report = await ready.json();
          for (const name of backends) assert.equal(report.plugins[name].state, "degraded");

          const plugins = await record(
            outputs,
            "GET /plugins",
            await running.request("/plugins", { headers: auth }),
          );
          assert.equal(plugins.status, 200);
          const listed = (await plugins.json()).plugins as { name: string; config: never }[];
          const configOf = (name: string) =>
            listed.find((p) => p.name === name)!.config as Record<string, unknown>;
          assert.equal(configOf("natstoken").token, REDACTED);
          assert.equal(configOf("graph").password, REDACTED);
          assert.equal(configOf("storage").secretAccessKey, REDACTED);

          for (
            const path of [
              "/v1/natslist/streams",
              "/v1/natstoken/publish/orders.created",
              "/v1/cache/keys/k",
              "/v1/sessions/keys/k",
              "/v1/graph/nodes/Thing/1",
              "/v1/storage/objects/k",
            ]
          ) {
            const method = path.includes("publish") ? "POST" : "GET";
            const answer = await record(
              outputs,
              `${method} ${path}`,
              await running.request(path, {
                method,
                headers: auth,
                body: method === "POST" ? "x" : null,
              }),
            );
            assert.equal(answer.status, 503);
            assert.equal((await answer.json()).code, "core.plugin_unavailable");
          }

          const exportsOf = <T>(name: string) => running.lifecycle.get(name)!.instance.exports as T;
          await failInSpan(
            running,
            outputs,
            "natslist",
            () => exportsOf<MessagingDriver>("natslist").streamInfo("orders"),
          );
          await failInSpan(
            running,
            outputs,
            "natstoken",
            () => exportsOf<MessagingDriver>("natstoken").streamInfo("orders"),
          );
          await failInSpan(
            running,
            outputs,
            "cache",
            () => exportsOf<CacheExports>("cache").get("k"),
          );
          await failInSpan(
            running,
            outputs,
            "sessions",
            () => exportsOf<CacheExports>("sessions").get("k"),
          );
          await failInSpan(
            running,
            outputs,
            "graph",
            () => exportsOf<GraphDriver>("graph").getNode({ label: "Thing", id: "1" }),
          );
          await failInSpan(
            running,
            outputs,
            "storage",
            () => exportsOf<StorageDriver>("storage").head("k"),
          );

          const metrics = await record(
            outputs,
            "GET /metrics",
            await running.request("/metrics", { headers: auth }),
          );
          assert.equal(metrics.status, 200);
        }
        // Stopped: the last spans have been exported to the receiver.
        const spans = receiver.requests.map((r) => r.body);
        assert.ok(spans.some((body) => body.includes("probe natslist")), "spans were exported");
        for (const body of spans) outputs.push(["exported spans", body]);

        // A required plugin that cannot start fails the boot with one line: no secret in it.
        const natslist = pluginBlocks(s, receiver.endpoint).natslist!;
        const required = configText(s, { natslist: { ...natslist, required: true } });
        const failure = await openApp(required, builtinPlugins, { log }).then(
          async (running) => {
            await running.lifecycle.stop();
            return undefined;
          },
          (error: unknown) => error,
        );
        assert.ok(failure instanceof Error && failure.name === "StartupError", String(failure));
        outputs.push(["start failure", failure.message]);

        assert.ok(outputs.some(([where]) => where === "log line"));
        assertNoSecret(outputs, s);
      }),
      runs(8),
    );
  },
);

/**
 * A backend that quotes its own password back in every failure, as some servers do: the text
 * is nowhere a secret sits by position, so only the remembered config secrets can hide it.
 */
const leakyPlugin = definePlugin({
  type: "leaky",
  description: "Echoes its password in its errors",
  config: z.strictObject({
    backend: z.literal("memory"),
    password: z.string(),
    /** A field that is no secret by name, quoting the password anyway. */
    note: z.string(),
    failStart: z.boolean().default(false),
  }),
  create(ctx) {
    const { password, failStart } = ctx.config;
    const routes = createRouter();
    routes.get("/refused", () => {
      throw new EdgeboxError("leaky.refused", { status: 502, title: "Backend refused" }, {
        detail: `Backend said: bad password ${password}`,
        cause: new Error(`AUTH ${password} failed`),
      });
    });
    routes.get("/bug", () => {
      throw new Error(`Unexpected reply to AUTH ${password}`);
    });
    routes.get("/logged", async (c) => {
      c.env.log.warn(`retrying with ${password}`, {
        sent: `AUTH ${password}`,
        nested: [{ password }],
      });
      await ctx.span("leaky.call", { "leaky.command": `AUTH ${password}` }, () => {
        throw new Error(`span saw ${password}`);
      }).catch(() => {});
      return c.json({ ok: true });
    });
    return {
      routes,
      start: () => {
        if (failStart) throw new Error(`Server refused password ${password}`);
        return Promise.resolve();
      },
      ready: () => Promise.resolve({ status: "ready" as const }),
    };
  },
});

Deno.test(
  "a secret a backend echoes in free text is scrubbed from every output",
  SANITIZED,
  async () => {
    const registry: PluginRegistry = new Map([
      ...builtinPlugins,
      ["leaky", leakyPlugin as unknown as PluginDefinition],
    ]);
    await fc.assert(
      fc.asyncProperty(
        secret(),
        fc.constantFrom<LogFormat>("json", "pretty"),
        async (password, format) => {
          const outputs: Outputs = [];
          const log = keepingLog(format, outputs);
          await using receiver = startOtlpReceiver();
          const block = { ...FAST_SETTINGS, type: "leaky", password, note: `uses ${password}` };
          const plugins = {
            observability: {
              ...FAST,
              timeouts: { ...FAST.timeouts, stop: "5s" },
              tracing: { enabled: true, endpoint: receiver.endpoint, exportDelay: "1m" },
              metrics: { enabled: true, public: true },
            },
            up: block,
            down: { ...block, required: false, failStart: true },
          };
          {
            await using running = await openApp(stringify({ plugins }), registry, { log });
            await waitFor(
              () => running.lifecycle.get("down")?.state === "degraded",
              "down degraded",
            );
            await record(outputs, "GET /ready", await running.request("/ready"));
            await record(outputs, "GET /plugins", await running.request("/plugins"));
            const refused = await record(
              outputs,
              "GET /v1/up/refused",
              await running.request("/v1/up/refused"),
            );
            assert.equal((await refused.json()).code, "leaky.refused");
            const bug = await record(
              outputs,
              "GET /v1/up/bug",
              await running.request("/v1/up/bug"),
            );
            assert.equal((await bug.json()).code, "core.internal");
            const logged = await record(
              outputs,
              "GET /v1/up/logged",
              await running.request("/v1/up/logged"),
            );
            assert.equal(logged.status, 200);
            const down = await record(
              outputs,
              "GET /v1/down/refused",
              await running.request("/v1/down/refused"),
            );
            assert.equal((await down.json()).code, "core.plugin_unavailable");
            await record(outputs, "GET /metrics", await running.request("/metrics"));
          }
          assert.ok(
            receiver.spans().some((span) => span.name === "leaky.call"),
            "spans were exported",
          );
          for (const request of receiver.requests) outputs.push(["exported spans", request.body]);

          const failing = { up: { ...block, failStart: true } };
          const failure = await openApp(stringify({ plugins: failing }), registry, { log }).then(
            async (running) => {
              await running.lifecycle.stop();
              return undefined;
            },
            (error: unknown) => error,
          );
          assert.ok(failure instanceof Error && failure.name === "StartupError", String(failure));
          outputs.push(["start failure", failure.message]);

          assert.ok(outputs.some(([where]) => where === "log line"));
          for (const spelled of spellings(password)) {
            for (const [where, text] of outputs) {
              assert.ok(
                !text.includes(spelled),
                `${where} shows the secret ${JSON.stringify(spelled)}: ${text}`,
              );
            }
          }
        },
      ),
      runs(12),
    );
  },
);
