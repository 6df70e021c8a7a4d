/**
 * The messaging contract on NATS JetStream (NATS_URL, default nats://127.0.0.1:4222), plus what
 * only a real server shows: surviving a server restart with file storage, degrading while the
 * server is away and recovering by itself. Those use a nats-server this file spawns on a free
 * port with its own store, never the shared one.
 */
import assert from "node:assert/strict";
import { EdgeboxError } from "../../core/errors.ts";
import { NatsMessaging, type NatsMessagingOptions } from "../../plugins/messaging/nats.ts";
import type { MessagingDriver } from "../../plugins/messaging/driver.ts";
import { SANITIZED, waitFor } from "../_helpers.ts";
import { runMessagingContract } from "./messaging_contract.ts";
import { realService, servicesRequired } from "./_services.ts";

const url = Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222";

function options(serverUrl: string): NatsMessagingOptions {
  return {
    scope: "messaging",
    url: serverUrl,
    connectTimeout: 2_000,
    apiTimeout: 3_000,
    maxPayload: 1024 * 1024,
  };
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
  return candidates.find((candidate) => candidate !== undefined && isFile(candidate));
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A nats-server of our own with JetStream and file storage in a temporary directory. */
class OwnNatsServer {
  readonly port = freePort();
  readonly url = `nats://127.0.0.1:${this.port}`;
  readonly #binary: string;
  readonly #dir = Deno.makeTempDirSync({ prefix: "edgebox-messaging-nats-" });
  #child: Deno.ChildProcess | undefined;

  constructor(binary: string) {
    this.#binary = binary;
  }

  async start(): Promise<void> {
    this.#child = new Deno.Command(this.#binary, {
      args: ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.#dir],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: this.port })).close();
        return true;
      } catch {
        return false;
      }
    }, `nats-server on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    child.kill("SIGTERM");
    await child.status;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

const binary = natsServerBinary();
const servers = new WeakMap<MessagingDriver, OwnNatsServer>();

if (await realService("NATS", url, 4222)) {
  runMessagingContract("nats", {
    open: () => new NatsMessaging(options(url)),
    ...(binary === undefined ? {} : {
      restartable: {
        async open() {
          const server = new OwnNatsServer(binary);
          await server.start();
          const driver = new NatsMessaging(options(server.url));
          servers.set(driver, server);
          // The server goes with the driver.
          const close = driver.close.bind(driver);
          driver.close = async () => {
            await close();
            await server.dispose();
          };
          return driver;
        },
        async restart(driver) {
          const server = servers.get(driver)!;
          await server.stop();
          await waitFor(() => driver.ping().status !== "ready", "the driver to notice");
          await server.start();
          await waitFor(() => driver.ping().status === "ready", "the driver to reconnect", 10_000);
          return driver;
        },
      },
    }),
  });
}

if (!binary) {
  Deno.test({
    name: "nats-server binary is available for restart tests",
    ignore: !servicesRequired,
    fn() {
      throw new Error("nats-server not found (NATS_SERVER_BIN, ~/.cache/edgebox/bin, PATH)");
    },
  });
} else {
  Deno.test({
    name: "messaging (nats): degrades while the server is away and recovers by itself",
    ...SANITIZED,
    async fn() {
      const server = new OwnNatsServer(binary);
      await server.start();
      const driver = new NatsMessaging({
        ...options(server.url),
        streams: [{
          name: "orders",
          subjects: ["orders.>"],
          retention: "limits",
          storage: "memory",
        }],
      });
      try {
        await driver.connect();
        assert.equal(driver.ping().status, "ready");
        await server.stop();
        await waitFor(() => driver.ping().status === "degraded", "the driver to degrade");
        await assert.rejects(
          () => driver.publish("orders.new", { data: new Uint8Array([1]) }),
          (error: unknown) =>
            error instanceof EdgeboxError && error.code === "messaging.unavailable" &&
            error.headers["Retry-After"] !== undefined,
        );
        await assert.rejects(() => driver.connect(), EdgeboxError);
        await server.start();
        // Memory storage lost the stream: the driver re-creates it once it is back.
        await waitFor(() => driver.ping().status === "ready", "the driver to recover", 10_000);
        const ack = await driver.publish("orders.new", { data: new Uint8Array([1]) });
        assert.deepEqual(ack, { stream: "orders", seq: 1, duplicate: false });
      } finally {
        await driver.close();
        await server.dispose();
      }
    },
  });
}

Deno.test({
  name: "messaging (nats): a server nobody listens on is unavailable, not a hang",
  ...SANITIZED,
  async fn() {
    const driver = new NatsMessaging(options(`nats://127.0.0.1:${freePort()}`));
    try {
      await assert.rejects(
        () => driver.connect(),
        (error: unknown) => error instanceof EdgeboxError && error.code === "messaging.unavailable",
      );
      assert.equal(driver.ping().status, "down");
      await assert.rejects(
        () => driver.publish("a.b", { data: new Uint8Array() }),
        (error: unknown) => error instanceof EdgeboxError && error.code === "messaging.unavailable",
      );
    } finally {
      await driver.close();
    }
  },
});
