/**
 * edgebox and other NATS clients on the same JetStream: nats.js (the client any other service
 * would use) publishes and reads behind edgebox's back, byte for byte and header for header; a
 * publish retried with the id edgebox answered is a duplicate; and against a nats-server this
 * file starts and freezes (SIGSTOP), readiness turns, the publish in flight answers 504 naming
 * its message id, and after SIGCONT the plugin recovers and the retry with that id stores
 * nothing twice.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { PluginDefinition, PluginRegistry } from "../../core/plugin.ts";
import { messagingPlugin } from "../../plugins/messaging/mod.ts";
import {
  configYaml,
  openApp,
  problemOf,
  type RunningApp,
  SANITIZED,
  stateOf,
  waitFor,
} from "../_helpers.ts";
import { realService, servicesRequired } from "../contract/_services.ts";

const url = Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222";

const registry: PluginRegistry = new Map([
  ["messaging", messagingPlugin as unknown as PluginDefinition],
]);

/** Bytes that are not UTF-8 (so they travel as base64) and include every awkward value. */
const BINARY = new Uint8Array([0, 1, 2, 0xff, 0xfe, 0x80, 13, 10, 0, 0xc3, 0x28, 0x7f]);

/** A stream of this run's own, so runs and other suites never share one. */
function uniqueStream(): { name: string; subjects: string[]; prefix: string } {
  const token = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  return { name: `INTEROP_${token}`, subjects: [`interop.${token}.>`], prefix: `interop.${token}` };
}

/** The edgebox app on the NATS backend at `serverUrl`, with its streams created at start. */
function openEdgebox(
  serverUrl: string,
  streams: Array<Record<string, unknown>>,
  block: Record<string, unknown> = {},
): Promise<RunningApp> {
  return openApp(
    configYaml({
      messaging: {
        backend: "nats",
        url: serverUrl,
        connectTimeout: "2s",
        apiTimeout: "2s",
        streams,
        startAttempts: 1,
        healthInterval: "200ms",
        timeouts: { start: "10s", ready: "2s", stop: "5s" },
        // The core's defaults: recovery must not depend on a test-sized backoff.
        reconnect: { initialDelay: "500ms", maxDelay: "30s" },
        ...block,
      },
    }),
    registry,
  );
}

async function publish(
  running: RunningApp,
  subject: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await running.request(`/v1/messaging/publish/${subject}`, {
    method: "POST",
    body,
    headers,
  });
}

async function withNats<T>(serverUrl: string, work: (nc: NatsConnection) => Promise<T>) {
  const nc = await connect({ servers: serverUrl, name: "interop-test", noAsyncTraces: true });
  try {
    return await work(nc);
  } finally {
    await nc.close();
  }
}

if (await realService("NATS", url, 4222)) {
  Deno.test({
    name: "interop (nats): a nats.js publish is read through edgebox byte-exact, headers too",
    ...SANITIZED,
    async fn() {
      const stream = uniqueStream();
      await using running = await openEdgebox(url, [{ ...stream, prefix: undefined }]);
      await withNats(url, async (nc) => {
        const jsm = await jetstreamManager(nc);
        try {
          const h = natsHeaders();
          h.set("Content-Type", "application/octet-stream");
          h.set("Trace-Id", "abc-123");
          h.append("Multi", "one");
          h.append("Multi", "two");
          const ack = await jetstream(nc).publish(`${stream.prefix}.from.natsjs`, BINARY, {
            headers: h,
            msgID: "natsjs-1",
          });
          assert.equal(ack.duplicate, false);

          const made = await running.request(
            `/v1/messaging/consumers/${stream.name}/reader`,
            {
              method: "PUT",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ deliver: "all" }),
            },
          );
          assert.equal(made.status, 201);
          await made.body?.cancel();
          const fetched = await running.request(
            `/v1/messaging/consumers/${stream.name}/reader/fetch?batch=10&wait=2s`,
            { method: "POST" },
          );
          assert.equal(fetched.status, 200);
          const { messages } = await fetched.json();
          assert.equal(messages.length, 1);
          const [message] = messages;
          assert.equal(message.subject, `${stream.prefix}.from.natsjs`);
          assert.equal(message.seq, ack.seq);
          assert.equal(message.encoding, "base64");
          assert.deepEqual(new Uint8Array(Buffer.from(message.data, "base64")), BINARY);
          assert.deepEqual(message.headers, {
            "Content-Type": "application/octet-stream",
            "Trace-Id": "abc-123",
            "Multi": "one, two",
            "Nats-Msg-Id": "natsjs-1",
          });
        } finally {
          await jsm.streams.delete(stream.name).catch(() => {});
        }
      });
    },
  });

  Deno.test({
    name: "interop (nats): an edgebox publish is read by a nats.js consumer byte-exact, with " +
      "its Nats-Msg-Id; the retry with that id is a duplicate",
    ...SANITIZED,
    async fn() {
      const stream = uniqueStream();
      await using running = await openEdgebox(url, [{ ...stream, prefix: undefined }]);
      await withNats(url, async (nc) => {
        const jsm = await jetstreamManager(nc);
        try {
          const subject = `${stream.prefix}.from.edgebox`;
          const response = await publish(running, subject, BINARY.slice(), {
            "content-type": "application/x-interop",
            "msg-trace-id": "xyz-789",
          });
          assert.equal(response.status, 200);
          const first = await response.json();
          assert.equal(first.duplicate, false);
          assert.equal(typeof first.msgId, "string");

          const consumer = await jetstream(nc).consumers.get(stream.name);
          const message = await consumer.next({ expires: 5_000 });
          assert.ok(message, "nats.js got the message");
          assert.equal(message.subject, subject);
          assert.equal(message.seq, first.seq);
          assert.deepEqual(new Uint8Array(message.data), BINARY);
          assert.equal(message.headers?.get("Nats-Msg-Id"), first.msgId);
          assert.equal(message.headers?.get("Content-Type"), "application/x-interop");
          assert.equal(message.headers?.get("Trace-Id"), "xyz-789");

          // The answer's id, sent back as Idempotency-Key, is the same message.
          const again = await publish(running, subject, BINARY.slice(), {
            "content-type": "application/x-interop",
            "idempotency-key": first.msgId,
          });
          assert.deepEqual(await again.json(), {
            stream: stream.name,
            seq: first.seq,
            duplicate: true,
            msgId: first.msgId,
          });
          assert.equal((await jsm.streams.info(stream.name)).state.messages, 1);
        } finally {
          await jsm.streams.delete(stream.name).catch(() => {});
        }
      });
    },
  });
}

/** The nats-server binary: NATS_SERVER_BIN, the installer's cache, or PATH. */
function natsServerBinary(): string | undefined {
  const candidates = [
    Deno.env.get("NATS_SERVER_BIN"),
    `${Deno.env.get("HOME")}/.cache/edgebox/bin/nats-server`,
  ];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(`${dir}/nats-server`);
  }
  return candidates.find((candidate) => {
    try {
      return candidate !== undefined && Deno.statSync(candidate).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * A nats-server of this test's own (JetStream, file store in a temporary directory). It picks
 * its own port (`-p -1`) and says which in its log: a port chosen free beforehand could be taken
 * by another suite's server in between, and the test would then freeze a server that never
 * started while edgebox talks to the other one.
 */
class FreezableNatsServer implements AsyncDisposable {
  readonly #dir = Deno.makeTempDirSync({ prefix: "edgebox-interop-nats-" });
  readonly #child: Deno.ChildProcess;
  /** Resolves with the client port once the server logs it; rejects if it exits first. */
  readonly #port: Promise<number>;
  /** Reads the log to its end, so the server never blocks writing it. */
  readonly #draining: Promise<void>;
  #url: string | undefined;

  constructor(binary: string) {
    const child = this.#child = new Deno.Command(binary, {
      args: ["-js", "-a", "127.0.0.1", "-p", "-1", "-sd", this.#dir],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.#port = promise;
    this.#draining = (async () => {
      let log = "";
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        log += text;
        const found = /Listening for client connections on [\d.]+:(\d+)/.exec(log);
        if (found) resolve(Number(found[1]));
      }
      reject(new Error(`nats-server exited before it listened:\n${log}`));
    })();
  }

  /** `nats://127.0.0.1:<port>`, once {@linkcode listening} resolved. */
  get url(): string {
    if (!this.#url) throw new Error("nats-server is not listening yet");
    return this.#url;
  }

  async listening(): Promise<void> {
    this.#url = `nats://127.0.0.1:${await this.#port}`;
  }

  /** Hangs the server: its sockets stay open, nothing answers. */
  freeze(): void {
    this.#child.kill("SIGSTOP");
  }

  thaw(): void {
    this.#child.kill("SIGCONT");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGCONT");
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#draining;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

const binary = natsServerBinary();

Deno.test({
  name: "interop (nats): a hung server turns /ready, a publish in flight is 504 naming its " +
    "msgId, and after it resumes the retry with that id is not stored twice",
  ignore: binary === undefined && !servicesRequired,
  ...SANITIZED,
  async fn() {
    if (binary === undefined) throw new Error("nats-server not found (NATS_SERVER_BIN, PATH)");
    await using server = new FreezableNatsServer(binary);
    await server.listening();
    const stream = { name: "HUNG", subjects: ["hung.>"], storage: "file" };
    await using running = await openEdgebox(server.url, [stream], { apiTimeout: "1s" });
    const ready = async () => {
      const response = await running.request("/ready");
      await response.body?.cancel();
      return response.status === 200;
    };
    assert.ok(await ready());

    server.freeze();
    // Sent before any probe could notice: the server takes it into its socket and says nothing.
    const timedOut = await publish(running, "hung.order", "exactly once", {
      "content-type": "text/plain",
    });
    assert.equal(timedOut.status, 504);
    const problem = await problemOf(timedOut);
    assert.equal(problem.code, "messaging.timeout");
    const msgId = problem.msgId;
    assert.equal(typeof msgId, "string");

    await waitFor(async () => !(await ready()), "/ready to turn while the server hangs");
    assert.equal(stateOf(running, "messaging"), "degraded");
    const refused = await publish(running, "hung.order", "x");
    assert.equal(refused.status, 503);
    assert.ok(refused.headers.get("retry-after"));
    await refused.body?.cancel();

    server.thaw();
    const resumed = performance.now();
    await waitFor(ready, "the plugin to recover after the server resumes", 10_000);
    console.log(`recovered ${Math.round(performance.now() - resumed)}ms after SIGCONT`);

    const retried = await publish(running, "hung.order", "exactly once", {
      "content-type": "text/plain",
      "idempotency-key": msgId as string,
    });
    assert.equal(retried.status, 200);
    assert.deepEqual(await retried.json(), { stream: "HUNG", seq: 1, duplicate: true, msgId });
    await withNats(server.url, async (nc) => {
      const info = await (await jetstreamManager(nc)).streams.info("HUNG");
      assert.equal(info.state.messages, 1);
      const stored = await (await jetstreamManager(nc)).streams.getMessage("HUNG", { seq: 1 });
      assert.equal(stored?.header.get("Nats-Msg-Id"), msgId);
      assert.equal(stored?.string(), "exactly once");
    });
  },
});
