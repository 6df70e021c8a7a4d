/**
 * The messaging contract on the SQLite backend, where a restart closes the driver and opens a
 * new one on the same file; then what a restart must keep, read back through the driver and,
 * for what the file holds, straight from the file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { EdgeboxError } from "../../core/errors.ts";
import { DataFileError } from "../../core/sqlite.ts";
import type { DeliveredMessage, MessagingDriver } from "../../plugins/messaging/driver.ts";
import { messagingPlugin } from "../../plugins/messaging/mod.ts";
import { SqliteMessaging } from "../../plugins/messaging/sqlite.ts";
import { configYaml, openApp, SANITIZED, tempDir, waitFor } from "../_helpers.ts";
import { runMessagingContract } from "./messaging_contract.ts";

const encoder = new TextEncoder();

function driverOn(file: string): SqliteMessaging {
  return new SqliteMessaging({
    scope: "messaging",
    maxPayload: 1024 * 1024,
    maxTotalBytes: 64 * 1024 * 1024,
    file: () => file,
    durability: "normal",
  });
}

// Each contract target gets its own directory under one root, removed when the run ends (a
// target's driver may be closed and connected again, so its file must outlive a close).
const root = Deno.makeTempDirSync({ prefix: "edgebox-messaging-sqlite-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const files = new WeakMap<MessagingDriver, string>();

function freshTarget(): MessagingDriver {
  const file = join(Deno.makeTempDirSync({ dir: root }), "messaging.db");
  const driver = driverOn(file);
  files.set(driver, file);
  return driver;
}

/** Closes `driver` and connects a new one on its file. */
async function restart(driver: MessagingDriver): Promise<SqliteMessaging> {
  const file = files.get(driver)!;
  await driver.close();
  const next = driverOn(file);
  files.set(next, file);
  await next.connect();
  return next;
}

runMessagingContract("sqlite", {
  open: freshTarget,
  restartable: { open: freshTarget, restart },
});

/** Runs `body` with a connected driver on a file in a fresh directory, closing what it ends with. */
function test(
  name: string,
  body: (driver: SqliteMessaging, file: string) => Promise<SqliteMessaging | void>,
): void {
  Deno.test({
    name: `messaging on sqlite: ${name}`,
    ...SANITIZED,
    async fn() {
      using dir = tempDir("edgebox-messaging-sqlite-");
      const file = join(dir.path, "messaging.db");
      const driver = driverOn(file);
      files.set(driver, file);
      let last = driver;
      try {
        await driver.connect();
        last = (await body(driver, file)) ?? driver;
      } finally {
        await driver.close();
        await last.close();
      }
    },
  });
}

async function publish(
  driver: MessagingDriver,
  subject: string,
  count: number,
  msgId?: (i: number) => string,
): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const options = msgId ? { msgId: msgId(i) } : {};
    const ack = await driver.publish(subject, { data: encoder.encode(`m${i}`) }, options);
    seqs.push(ack.seq);
  }
  return seqs;
}

async function stream(driver: MessagingDriver, settings: Record<string, unknown> = {}) {
  await driver.putStream({
    name: "orders",
    subjects: ["orders.>"],
    retention: "limits",
    storage: "file",
    ...settings,
  });
}

/** Rows of `table` in the file, read through a connection of its own. */
function rows(file: string, table: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function fetchSeqs(
  driver: MessagingDriver,
  wait: number,
  batch = 10,
): Promise<DeliveredMessage[]> {
  return await driver.fetch("orders", "worker", { batch, wait });
}

test("sequences continue after a restart", async (driver) => {
  await stream(driver);
  assert.deepEqual(await publish(driver, "orders.a", 3), [1, 2, 3]);
  const next = await restart(driver);
  assert.deepEqual(await publish(next, "orders.a", 2), [4, 5]);
  assert.equal((await next.streamInfo("orders")).state.messages, 5);
  return next;
});

test("sequences never repeat after a restart, even once the stream kept nothing", async (d) => {
  // An interest stream with no consumer keeps nothing: every message goes as it is stored.
  await stream(d, { retention: "interest" });
  assert.deepEqual(await publish(d, "orders.a", 3), [1, 2, 3]);
  assert.equal((await d.streamInfo("orders")).state.messages, 0);
  const next = await restart(d);
  const info = await next.streamInfo("orders");
  assert.equal(info.state.lastSeq, 3);
  assert.equal(info.state.firstSeq, 4);
  assert.deepEqual(await publish(next, "orders.a", 1), [4]);
  return next;
});

test("an idempotency key holds across a restart, even after limits removed its message", async (d) => {
  await stream(d, { maxMsgs: 1 });
  await publish(d, "orders.a", 2, (i) => `key-${i}`);
  const next = await restart(d);
  const again = await next.publish("orders.a", { data: encoder.encode("again") }, {
    msgId: "key-0",
  });
  assert.deepEqual(again, { stream: "orders", seq: 1, duplicate: true });
  const kept = await next.publish("orders.a", { data: encoder.encode("kept") }, { msgId: "key-1" });
  assert.deepEqual(kept, { stream: "orders", seq: 2, duplicate: true });
  const fresh = await next.publish("orders.a", { data: encoder.encode("new") }, { msgId: "key-2" });
  assert.deepEqual(fresh, { stream: "orders", seq: 3, duplicate: false });
  return next;
});

test("an acked message is never delivered again after a restart; an unacked one is, after its ack wait", async (d) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 1_000,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 4);
  const first = await fetchSeqs(d, 0, 3);
  assert.deepEqual(first.map((m) => m.seq), [1, 2, 3]);
  await d.ack(first[0]!.token, "ack");
  await d.ack(first[1]!.token, "term");
  const next = await restart(d);
  const info = await next.consumerInfo("orders", "worker");
  assert.equal(info.ackPending, 1);
  assert.equal(info.lastDelivered, 3);
  // 3 is still owed to its first fetch until its ack wait passes; 4 was never delivered.
  assert.deepEqual((await fetchSeqs(next, 0)).map((m) => m.seq), [4]);
  const again = await fetchSeqs(next, 5_000);
  assert.deepEqual(again.map((m) => [m.seq, m.deliveries]), [[3, 2]]);
  return next;
});

test("a consumer that acked everything it got goes on after it after a restart", async (d) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 30_000,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 3);
  for (const message of await fetchSeqs(d, 0, 2)) await d.ack(message.token, "ack");
  const next = await restart(d);
  const info = await next.consumerInfo("orders", "worker");
  assert.deepEqual([info.ackPending, info.ackFloor, info.lastDelivered], [0, 2, 2]);
  assert.deepEqual((await fetchSeqs(next, 0)).map((m) => m.seq), [3]);
  return next;
});

test("a message delivered its maximum times stays undelivered after a restart", async (d) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 50,
    maxDeliver: 1,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 1);
  assert.equal((await fetchSeqs(d, 0)).length, 1);
  // Once its ack wait passed, the next fetch finds it exhausted instead of redelivering it.
  await waitFor(async () =>
    (await fetchSeqs(d, 0)).length === 0 &&
    (await d.consumerInfo("orders", "worker")).ackPending === 0, "the delivery to exhaust");
  const next = await restart(d);
  assert.deepEqual(await fetchSeqs(next, 200), []);
  assert.equal((await next.consumerInfo("orders", "worker")).ackPending, 0);
  assert.equal(rows(files.get(next)!, "deliveries WHERE exhausted = 1"), 1);
  return next;
});

test("an ack token issued before a restart acks after it", async (d) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 30_000,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 1);
  const [message] = await fetchSeqs(d, 0);
  const next = await restart(d);
  assert.equal((await next.consumerInfo("orders", "worker")).ackPending, 1);
  await next.ack(message!.token, "ack");
  assert.equal((await next.consumerInfo("orders", "worker")).ackPending, 0);
  return next;
});

test("a token from another data file is refused", async (d) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 30_000,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 1);
  const [message] = await fetchSeqs(d, 0);
  using other = tempDir("edgebox-messaging-sqlite-");
  await using stranger = driverOn(join(other.path, "messaging.db"));
  await stranger.connect();
  await assert.rejects(
    () => stranger.ack(message!.token, "ack"),
    (error) => error instanceof EdgeboxError && error.code === "messaging.token_invalid",
  );
});

test("maxMsgs holds in the file, not only in memory", async (d, file) => {
  await stream(d, { maxMsgs: 5 });
  await publish(d, "orders.a", 20);
  assert.equal(rows(file, "messages"), 5);
});

test("maxAge holds in the file: expired messages' rows go", async (d, file) => {
  await stream(d, { maxAge: 100 });
  await publish(d, "orders.a", 5);
  assert.equal(rows(file, "messages"), 5);
  await waitFor(
    async () => (await d.streamInfo("orders")).state.messages === 0,
    "the messages to expire",
  );
  await publish(d, "orders.a", 1); // the removals commit with the next write
  assert.equal(rows(file, "messages"), 1);
});

test("deleting a stream deletes its rows", async (d, file) => {
  await stream(d);
  await d.putConsumer({
    stream: "orders",
    name: "worker",
    ackWait: 30_000,
    deliver: "all",
    maxAckPending: 100,
  });
  await publish(d, "orders.a", 3, (i) => `key-${i}`);
  await fetchSeqs(d, 0);
  await d.deleteStream("orders");
  for (const table of ["streams", "messages", "dedup", "consumers", "deliveries"]) {
    assert.equal(rows(file, table), 0, table);
  }
});

test("a damaged file makes connect fail with a DataFileError naming it", async (d, file) => {
  await d.close();
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(file + suffix).catch(() => {});
  await Deno.writeFile(
    file,
    encoder.encode("this is not a database, it only looks like one".repeat(100)),
  );
  const broken = driverOn(file);
  await assert.rejects(() => broken.connect(), (error) => {
    assert.ok(error instanceof DataFileError);
    assert.ok(error.message.includes(file), error.message);
    return true;
  });
  assert.equal(broken.ping().status, "down");
});

test(
  "a failed commit is not acknowledged, and a reconnect rebuilds the broker from the file",
  async (
    d,
    file,
  ) => {
    await stream(d);
    await publish(d, "orders.a", 2);
    // Another connection makes every new message row fail, the way a full disk would.
    const saboteur = new DatabaseSync(file);
    try {
      saboteur.exec(
        "CREATE TRIGGER full BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END",
      );
      await assert.rejects(
        () => d.publish("orders.a", { data: encoder.encode("lost") }),
        (error) => error instanceof EdgeboxError && error.code === "messaging.unavailable",
      );
      assert.equal(d.ping().status, "down");
      await assert.rejects(
        () => d.streamInfo("orders"),
        (error) => error instanceof EdgeboxError && error.code === "messaging.unavailable",
      );
      saboteur.exec("DROP TRIGGER full");
    } finally {
      saboteur.close();
    }
    await d.connect();
    assert.equal(d.ping().status, "ready");
    assert.equal((await d.streamInfo("orders")).state.messages, 2);
    assert.deepEqual(await publish(d, "orders.a", 1), [3]);
    assert.equal(rows(file, "messages"), 3);
  },
);

test("a responder keeps answering after the broker is rebuilt", async (d) => {
  const responder = await d.respond("svc.echo", (request) => ({ data: request.data, headers: {} }));
  await d.close();
  await d.connect();
  const reply = await d.request("svc.echo", { data: encoder.encode("hi"), headers: {} }, 1_000);
  assert.equal(new TextDecoder().decode(reply.data), "hi");
  await responder.close();
});

Deno.test(
  "messaging on sqlite: through the whole app, <dataDir>/<instance>.db keeps messages across a restart",
  SANITIZED,
  async () => {
    using dir = tempDir("edgebox-messaging-plugin-");
    const registry = new Map([["messaging", messagingPlugin]]);
    const yaml = configYaml({
      events: {
        type: "messaging",
        backend: "sqlite",
        durability: "fsync",
        streams: [{ name: "orders", subjects: ["orders.>"] }],
        // Opening and checking a file, then an fsync'd commit, on a busy machine.
        timeouts: { start: "5s", stop: "5s" },
      },
    }, { server: { dataDir: dir.path } });
    const publish = async (
      app: { request(path: string, init?: RequestInit): Promise<Response> },
    ) => {
      const response = await app.request("/v1/events/publish/orders.new", {
        method: "POST",
        body: "an order",
      });
      assert.equal(response.status, 200, await response.clone().text());
      return ((await response.json()) as { seq: number }).seq;
    };
    {
      await using running = await openApp(yaml, registry);
      assert.deepEqual([await publish(running), await publish(running)], [1, 2]);
    }
    assert.ok(Deno.statSync(join(dir.path, "events.db")).isFile);
    await using running = await openApp(yaml, registry);
    const info = await running.request("/v1/events/streams/orders");
    assert.equal(info.status, 200);
    assert.equal(((await info.json()) as { state: { messages: number } }).state.messages, 2);
    assert.equal(await publish(running), 3);
  },
);
