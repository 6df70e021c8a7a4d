/**
 * The messaging contract: what every messaging driver must do, written once and run against each
 * (`messaging_memory_test.ts`, `messaging_nats_test.ts`). Each test makes its own streams with
 * unique names and subjects, so runs can share a server, run in parallel and run again.
 * Timing-dependent behaviours use short ack waits and windows and poll for their outcome.
 */
import assert from "node:assert/strict";
import { EdgeboxError } from "../../core/errors.ts";
import type {
  ConsumerSpec,
  DeliveredMessage,
  MessagingDriver,
  StoredMessage,
  StreamSpec,
  Subscription,
} from "../../plugins/messaging/driver.ts";
import { SANITIZED, waitFor } from "../_helpers.ts";
import { servicesRequired } from "./_services.ts";

/** How the suite reaches a backend. */
export interface MessagingContractOptions {
  /** A new, unconnected driver. */
  open(): MessagingDriver;
  /**
   * A driver on a backend the test may restart, and the restart itself, which resolves to the
   * driver to go on with once the backend is back. The suite checks that published and acked
   * state survives the restart when the driver claims `persistence`, and is lost when it does not.
   */
  restartable?: {
    open(): MessagingDriver | Promise<MessagingDriver>;
    restart(driver: MessagingDriver): Promise<MessagingDriver>;
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let counter = 0;

/** A stream name (and subject prefix) no other test, run or process uses. */
function uniqueName(): string {
  return `t${crypto.randomUUID().slice(0, 8)}${(counter++).toString(36)}`;
}

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function text(message: StoredMessage): string {
  return decoder.decode(message.data);
}

async function rejectsWithCode(work: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof EdgeboxError, `expected an EdgeboxError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Runs the contract suite against one driver. */
export function runMessagingContract(name: string, options: MessagingContractOptions): void {
  const test = (title: string, fn: (driver: MessagingDriver) => Promise<void>) =>
    Deno.test({
      name: `messaging contract (${name}): ${title}`,
      ...SANITIZED,
      async fn() {
        const driver = options.open();
        const made: string[] = [];
        const original = driver.putStream.bind(driver);
        driver.putStream = (spec) => {
          made.push(spec.name);
          return original(spec);
        };
        try {
          await driver.connect();
          await fn(driver);
        } finally {
          for (const stream of made) await driver.deleteStream(stream).catch(() => {});
          await driver.close();
        }
      },
    });

  /** A stream capturing `<name>.>` with these settings. */
  async function stream(
    driver: MessagingDriver,
    settings: Partial<StreamSpec> = {},
  ): Promise<string> {
    const streamName = settings.name ?? uniqueName();
    await driver.putStream({
      name: streamName,
      subjects: [`${streamName}.>`],
      retention: "limits",
      storage: "memory",
      ...settings,
    });
    return streamName;
  }

  async function consumer(
    driver: MessagingDriver,
    streamName: string,
    settings: Partial<ConsumerSpec> = {},
  ): Promise<string> {
    const consumerName = settings.name ?? "worker";
    await driver.putConsumer({
      stream: streamName,
      name: consumerName,
      ackWait: 30_000,
      deliver: "all",
      maxAckPending: 1_000,
      ...settings,
    });
    return consumerName;
  }

  /** Fetches until `count` messages came or `timeoutMs` passed. */
  async function fetchAll(
    driver: MessagingDriver,
    streamName: string,
    consumerName: string,
    count: number,
    timeoutMs = 5_000,
  ): Promise<DeliveredMessage[]> {
    const got: DeliveredMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (got.length < count && Date.now() < deadline) {
      got.push(
        ...await driver.fetch(streamName, consumerName, {
          batch: count - got.length,
          wait: Math.max(1, Math.min(1_000, deadline - Date.now())),
        }),
      );
    }
    return got;
  }

  async function publishAll(driver: MessagingDriver, subject: string, payloads: string[]) {
    const acks = [];
    for (const payload of payloads) {
      acks.push(await driver.publish(subject, { data: bytes(payload) }));
    }
    return acks;
  }

  async function take(subscription: Subscription, count: number): Promise<StoredMessage[]> {
    const got: StoredMessage[] = [];
    if (count === 0) return got;
    for await (const message of subscription) {
      got.push(message);
      if (got.length >= count) break;
    }
    return got;
  }

  // --- publishing and streams ---

  test("a publish is stored in the stream that captures its subject, with the next sequence", async (d) => {
    const s = await stream(d);
    const acks = await publishAll(d, `${s}.a`, ["one", "two", "three"]);
    assert.deepEqual(acks, [1, 2, 3].map((seq) => ({ stream: s, seq, duplicate: false })));
    const info = await d.streamInfo(s);
    assert.equal(info.state.messages, 3);
    assert.equal(info.state.firstSeq, 1);
    assert.equal(info.state.lastSeq, 3);
  });

  test("concurrent publishes are all stored, each with a sequence of its own", async (d) => {
    const s = await stream(d);
    const acks = await Promise.all(
      Array.from({ length: 50 }, (_, i) => d.publish(`${s}.a`, { data: bytes(`m${i}`) })),
    );
    assert.deepEqual(acks.map((a) => a.seq).sort((a, b) => a - b), acks.map((_, i) => i + 1));
    assert.equal((await d.streamInfo(s)).state.messages, 50);
  });

  test("a publish to a subject no stream captures is refused", async (d) => {
    await rejectsWithCode(
      () => d.publish(`${uniqueName()}.a`, { data: bytes("lost") }),
      "messaging.no_stream",
    );
  });

  test("a message over the payload limit is refused", async (d) => {
    const s = await stream(d);
    await rejectsWithCode(
      () => d.publish(`${s}.big`, { data: new Uint8Array(d.maxPayload() + 1) }),
      "messaging.payload_too_large",
    );
    assert.equal((await d.streamInfo(s)).state.messages, 0);
  });

  test("headers and binary payloads survive the round trip", async (d) => {
    const s = await stream(d);
    const data = new Uint8Array([0, 255, 1, 254]);
    await d.publish(`${s}.bin`, { data, headers: { "Content-Type": "application/octet-stream" } });
    const c = await consumer(d, s);
    const [message] = await fetchAll(d, s, c, 1);
    assert.ok(message);
    assert.deepEqual([...message.data], [...data]);
    assert.equal(message.headers["Content-Type"], "application/octet-stream");
    assert.equal(message.subject, `${s}.bin`);
    assert.ok(message.time instanceof Date && !Number.isNaN(message.time.getTime()));
  });

  test("messages on one subject are delivered in publish order", async (d) => {
    const s = await stream(d);
    const payloads = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await publishAll(d, `${s}.ordered`, payloads);
    const c = await consumer(d, s);
    const got = await fetchAll(d, s, c, 20);
    assert.deepEqual(got.map(text), payloads);
    assert.deepEqual(got.map((m) => m.seq), payloads.map((_, i) => i + 1));
  });

  test("a * filter matches exactly one token", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { filterSubject: `${s}.*` });
    await publishAll(d, `${s}.a`, ["a"]);
    await publishAll(d, `${s}.a.deep`, ["a.deep"]);
    await publishAll(d, `${s}.b`, ["b"]);
    const got = await fetchAll(d, s, c, 2);
    assert.deepEqual(got.map((m) => m.subject), [`${s}.a`, `${s}.b`]);
    assert.deepEqual(await d.fetch(s, c, { batch: 5, wait: 0 }), []);
  });

  test("a > filter matches one or more trailing tokens", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { filterSubject: `${s}.a.>` });
    for (const subject of [`${s}.a`, `${s}.a.b`, `${s}.a.b.c`, `${s}.b.c`]) {
      await d.publish(subject, { data: bytes(subject) });
    }
    const got = await fetchAll(d, s, c, 2);
    assert.deepEqual(got.map((m) => m.subject), [`${s}.a.b`, `${s}.a.b.c`]);
    assert.deepEqual(await d.fetch(s, c, { batch: 5, wait: 0 }), []);
  });

  test("a repeated idempotency key inside the window is not stored again", async (d) => {
    const s = await stream(d);
    const first = await d.publish(`${s}.a`, { data: bytes("x") }, { msgId: "order-1" });
    const again = await d.publish(`${s}.a`, { data: bytes("x") }, { msgId: "order-1" });
    assert.deepEqual(again, { stream: s, seq: first.seq, duplicate: true });
    assert.equal((await d.streamInfo(s)).state.messages, 1);
  });

  test("an idempotency key is accepted again once the window has passed", async (d) => {
    const s = await stream(d, { duplicateWindow: 300 });
    const first = await d.publish(`${s}.a`, { data: bytes("x") }, { msgId: "k" });
    let later = first;
    await waitFor(async () => {
      later = await d.publish(`${s}.a`, { data: bytes("x") }, { msgId: "k" });
      return !later.duplicate;
    }, "the idempotency key to expire");
    assert.equal(later.seq, first.seq + 1);
  });

  test("a stream keeps at most maxMsgs messages, dropping the oldest", async (d) => {
    const s = await stream(d, { maxMsgs: 3 });
    await publishAll(d, `${s}.a`, ["1", "2", "3", "4", "5"]);
    const info = await d.streamInfo(s);
    assert.equal(info.state.messages, 3);
    assert.equal(info.state.firstSeq, 3);
    assert.equal(info.state.lastSeq, 5);
  });

  test("a stream keeps at most maxBytes bytes, dropping the oldest", async (d) => {
    const s = await stream(d, { maxBytes: 1_000 });
    await publishAll(d, `${s}.a`, Array.from({ length: 20 }, () => "x".repeat(100)));
    const info = await d.streamInfo(s);
    assert.ok(info.state.bytes <= 1_000, `bytes ${info.state.bytes}`);
    assert.ok(info.state.messages > 0 && info.state.messages < 20);
    assert.equal(info.state.lastSeq, 20);
    assert.equal(info.state.firstSeq, 20 - info.state.messages + 1);
  });

  test("messages older than maxAge are removed", async (d) => {
    const s = await stream(d, { maxAge: 300 });
    await publishAll(d, `${s}.a`, ["old"]);
    assert.equal((await d.streamInfo(s)).state.messages, 1);
    await waitFor(
      async () => (await d.streamInfo(s)).state.messages === 0,
      "the message to age out",
    );
  });

  test("a work queue removes a message once it is acked", async (d) => {
    const s = await stream(d, { retention: "workqueue" });
    const c = await consumer(d, s);
    await publishAll(d, `${s}.job`, ["a", "b"]);
    const [first] = await fetchAll(d, s, c, 1);
    assert.ok(first);
    await d.ack(first.token, "ack");
    await waitFor(async () => (await d.streamInfo(s)).state.messages === 1, "the acked job to go");
  });

  test("a work queue refuses a second consumer with an overlapping filter", async (d) => {
    const s = await stream(d, { retention: "workqueue" });
    await consumer(d, s, { name: "one" });
    await rejectsWithCode(() => consumer(d, s, { name: "two" }), "messaging.consumer_conflict");
  });

  test("an interest stream removes a message once every consumer acked it", async (d) => {
    const s = await stream(d, { retention: "interest" });
    const a = await consumer(d, s, { name: "a" });
    const b = await consumer(d, s, { name: "b" });
    await publishAll(d, `${s}.event`, ["e"]);
    const [fromA] = await fetchAll(d, s, a, 1);
    const [fromB] = await fetchAll(d, s, b, 1);
    assert.ok(fromA && fromB);
    await d.ack(fromA.token, "ack");
    assert.equal((await d.streamInfo(s)).state.messages, 1);
    await d.ack(fromB.token, "ack");
    await waitFor(async () => (await d.streamInfo(s)).state.messages === 0, "the message to go");
  });

  test("an interest stream keeps nothing while no consumer wants it", async (d) => {
    const s = await stream(d, { retention: "interest" });
    const [ack] = await publishAll(d, `${s}.event`, ["e"]);
    assert.equal(ack?.seq, 1);
    assert.equal((await d.streamInfo(s)).state.messages, 0);
  });

  // --- durable consumers ---

  test("an acked message is not redelivered", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 200 });
    await publishAll(d, `${s}.a`, ["x"]);
    const [message] = await fetchAll(d, s, c, 1);
    assert.ok(message);
    await d.ack(message.token, "ack");
    assert.deepEqual(await d.fetch(s, c, { batch: 1, wait: 1_200 }), []);
    assert.equal((await d.consumerInfo(s, c)).ackPending, 0);
  });

  test("acking twice acks that message once and no other", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 300 });
    await publishAll(d, `${s}.a`, ["x", "y"]);
    const [x, y] = await fetchAll(d, s, c, 2);
    assert.ok(x && y);
    await d.ack(x.token, "ack");
    await d.ack(x.token, "ack");
    await waitFor(async () => {
      const info = await d.consumerInfo(s, c);
      return info.ackFloor === x.seq && info.ackPending === 1;
    }, "the first message acked and the second still pending");
    // Once the ack wait passes only the second comes back: the first stays acked.
    const [again] = await fetchAll(d, s, c, 1);
    assert.equal(again?.seq, y.seq);
    assert.equal(again?.deliveries, 2);
  });

  test("an unacked message is redelivered after the ack wait", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 300 });
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    const [again] = await fetchAll(d, s, c, 1);
    assert.ok(first && again);
    assert.equal(again.seq, first.seq);
    assert.equal(first.deliveries, 1);
    assert.equal(again.deliveries, 2);
  });

  test("a nak'd message is redelivered at once", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    assert.ok(first);
    await d.ack(first.token, "nak");
    const [again] = await fetchAll(d, s, c, 1, 2_000);
    assert.equal(again?.seq, first.seq);
    assert.equal(again?.deliveries, 2);
  });

  test("a nak'd message with a delay is redelivered after its delay, not before", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    assert.ok(first);
    await d.ack(first.token, "nak", { delay: 1_000 });
    assert.deepEqual(await d.fetch(s, c, { batch: 1, wait: 0 }), []);
    const [again] = await fetchAll(d, s, c, 1, 5_000);
    assert.equal(again?.seq, first.seq);
  });

  test("a term'd message is never redelivered", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 200 });
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    assert.ok(first);
    await d.ack(first.token, "term");
    assert.deepEqual(await d.fetch(s, c, { batch: 1, wait: 1_200 }), []);
  });

  test("working restarts the ack wait", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 1_000 });
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    assert.ok(first);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await d.ack(first.token, "working");
    // Past the first deadline, well before the second one.
    assert.deepEqual(await d.fetch(s, c, { batch: 1, wait: 700 }), []);
    const [again] = await fetchAll(d, s, c, 1);
    assert.equal(again?.deliveries, 2);
  });

  test("maxDeliver bounds how often a message is delivered", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 200, maxDeliver: 2 });
    await publishAll(d, `${s}.a`, ["x"]);
    const [first] = await fetchAll(d, s, c, 1);
    const [second] = await fetchAll(d, s, c, 1);
    assert.deepEqual([first?.deliveries, second?.deliveries], [1, 2]);
    assert.deepEqual(await d.fetch(s, c, { batch: 1, wait: 1_000 }), []);
  });

  test("two fetchers on one consumer never get the same unacked message", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    await publishAll(d, `${s}.a`, Array.from({ length: 10 }, (_, i) => `m${i}`));
    const [one, two] = await Promise.all([
      d.fetch(s, c, { batch: 6, wait: 1_000 }),
      d.fetch(s, c, { batch: 6, wait: 1_000 }),
    ]);
    const seqs = [...one!, ...two!].map((m) => m.seq);
    assert.equal(new Set(seqs).size, seqs.length, `duplicates in ${seqs}`);
    const rest = await fetchAll(d, s, c, 10 - seqs.length, 2_000);
    assert.deepEqual([...seqs, ...rest.map((m) => m.seq)].sort((a, b) => a - b), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
    ]);
  });

  test("waiting fetchers share new messages without duplicates", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    const waiting = [
      d.fetch(s, c, { batch: 1, wait: 3_000 }),
      d.fetch(s, c, { batch: 1, wait: 3_000 }),
    ];
    // Nothing reports that a fetch is waiting: give both a moment to start.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await publishAll(d, `${s}.a`, ["p", "q"]);
    const got = (await Promise.all(waiting)).flat();
    const seqs = got.map((m) => m.seq);
    assert.equal(new Set(seqs).size, seqs.length);
    const rest = await fetchAll(d, s, c, 2 - seqs.length, 2_000);
    assert.deepEqual([...seqs, ...rest.map((m) => m.seq)].sort(), [1, 2]);
  });

  test("a waiting fetch returns as soon as a message arrives", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    const fetching = d.fetch(s, c, { batch: 10, wait: 20_000 });
    // Nothing reports that a fetch is waiting: give it a moment to start.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const published = performance.now();
    await publishAll(d, `${s}.a`, ["late"]);
    const got = await fetching;
    assert.deepEqual(got.map(text), ["late"]);
    const tookMs = performance.now() - published;
    assert.ok(tookMs < 5_000, `the fetch returned ${Math.round(tookMs)}ms after the publish`);
  });

  test("a fetch with nothing to deliver returns empty after its wait", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    assert.deepEqual(await d.fetch(s, c, { batch: 5, wait: 100 }), []);
  });

  test("an aborted fetch returns early and loses nothing", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 300 });
    const controller = new AbortController();
    const fetching = d.fetch(s, c, { batch: 1, wait: 20_000, signal: controller.signal });
    // Nothing reports that a fetch is waiting: give it a moment to start.
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    assert.deepEqual(await fetching, []);
    await publishAll(d, `${s}.a`, ["kept"]);
    const got = await fetchAll(d, s, c, 1, 5_000);
    assert.deepEqual(got.map(text), ["kept"]);
  });

  test("a forged or altered ack token is refused", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s);
    await publishAll(d, `${s}.a`, ["x"]);
    const [message] = await fetchAll(d, s, c, 1);
    assert.ok(message);
    const [version, body] = message.token.split(".");
    const flipped = body!.slice(0, 20) + (body![20] === "A" ? "B" : "A") + body!.slice(21);
    await rejectsWithCode(() => d.ack(`${version}.${flipped}`, "ack"), "messaging.token_invalid");
    await rejectsWithCode(() => d.ack("v1.JEpTLkFDSy5mb28.AAAA", "ack"), "messaging.token_invalid");
    await rejectsWithCode(() => d.ack("not a token", "ack"), "messaging.token_invalid");
  });

  test("a new consumer can start at new or last messages", async (d) => {
    const s = await stream(d);
    await publishAll(d, `${s}.a`, ["1", "2", "3"]);
    const fresh = await consumer(d, s, { name: "fresh", deliver: "new" });
    const last = await consumer(d, s, { name: "last", deliver: "last" });
    await publishAll(d, `${s}.a`, ["4"]);
    assert.deepEqual((await fetchAll(d, s, fresh, 1)).map(text), ["4"]);
    assert.deepEqual((await fetchAll(d, s, last, 2)).map(text), ["3", "4"]);
  });

  test("nothing acked is lost when the driver is stopped and started again", async (d) => {
    const s = await stream(d, { storage: "file" });
    const c = await consumer(d, s, { ackWait: 300 });
    await publishAll(d, `${s}.a`, ["1", "2", "3"]);
    const got = await fetchAll(d, s, c, 3);
    await d.ack(got[0]!.token, "ack");
    await d.ack(got[1]!.token, "ack");
    await d.close();
    assert.notEqual(d.ping().status, "ready");
    await d.connect();
    assert.equal(d.ping().status, "ready");
    assert.equal((await d.streamInfo(s)).state.messages, 3);
    const after = await fetchAll(d, s, c, 1, 3_000);
    assert.deepEqual(after.map((m) => m.seq), [3]);
    assert.deepEqual(await d.fetch(s, c, { batch: 5, wait: 0 }), []);
  });

  // --- live subscriptions ---

  test("a subscription delivers new messages in order", async (d) => {
    const s = await stream(d);
    await publishAll(d, `${s}.a`, ["before"]);
    const controller = new AbortController();
    const sub = await d.subscribe(`${s}.>`, {
      deliver: { kind: "new" },
      signal: controller.signal,
    });
    try {
      assert.equal(sub.stream, s);
      const reading = take(sub, 3);
      await publishAll(d, `${s}.a`, ["1", "2", "3"]);
      const got = await reading;
      assert.deepEqual(got.map(text), ["1", "2", "3"]);
      assert.deepEqual(got.map((m) => m.seq), [2, 3, 4]);
    } finally {
      controller.abort();
      await sub.close();
    }
  });

  test("a subscription can replay from the first, the last, a sequence or a time", async (d) => {
    const s = await stream(d);
    await publishAll(d, `${s}.a`, ["1", "2"]);
    // The clock must move between the halves, or no time separates them.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const middle = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await publishAll(d, `${s}.a`, ["3", "4"]);
    const cases = [
      { deliver: { kind: "all" as const }, expect: ["1", "2", "3", "4"] },
      { deliver: { kind: "last" as const }, expect: ["4"] },
      { deliver: { kind: "seq" as const, seq: 2 }, expect: ["2", "3", "4"] },
      { deliver: { kind: "time" as const, time: middle }, expect: ["3", "4"] },
    ];
    for (const { deliver, expect } of cases) {
      const controller = new AbortController();
      const sub = await d.subscribe(`${s}.a`, { deliver, signal: controller.signal });
      try {
        assert.deepEqual((await take(sub, expect.length)).map(text), expect, deliver.kind);
      } finally {
        controller.abort();
        await sub.close();
      }
    }
  });

  test("a subscription filter with a wildcard sees only matching subjects", async (d) => {
    const s = await stream(d);
    const controller = new AbortController();
    const sub = await d.subscribe(`${s}.*.x`, {
      deliver: { kind: "all" },
      signal: controller.signal,
    });
    try {
      const reading = take(sub, 2);
      for (const subject of [`${s}.a.x`, `${s}.a.y`, `${s}.b.x`]) {
        await d.publish(subject, { data: bytes(subject) });
      }
      assert.deepEqual((await reading).map((m) => m.subject), [`${s}.a.x`, `${s}.b.x`]);
    } finally {
      controller.abort();
      await sub.close();
    }
  });

  test("a subscription ends when its signal aborts", async (d) => {
    const s = await stream(d);
    const controller = new AbortController();
    const sub = await d.subscribe(`${s}.>`, {
      deliver: { kind: "new" },
      signal: controller.signal,
    });
    const reading = take(sub, 1_000);
    // Nothing reports that a reader is waiting: give it a moment to start.
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    assert.deepEqual(await reading, []);
    await sub.close();
  });

  test("a subscription ends when its stream is deleted", async (d) => {
    const s = await stream(d);
    const controller = new AbortController();
    const sub = await d.subscribe(`${s}.>`, {
      deliver: { kind: "all" },
      signal: controller.signal,
    });
    try {
      const reading = take(sub, 1_000);
      // Nothing reports that a reader is waiting: give it a moment to start.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await d.deleteStream(s);
      assert.deepEqual(await reading, []);
    } finally {
      controller.abort();
      await sub.close();
    }
  });

  test("a subscription to a subject no stream captures is refused", async (d) => {
    await rejectsWithCode(
      () =>
        d.subscribe(`${uniqueName()}.>`, {
          deliver: { kind: "new" },
          signal: new AbortController().signal,
        }),
      "messaging.no_stream",
    );
  });

  // --- request/reply ---

  test("a request gets the responder's reply", async (d) => {
    const subject = `${uniqueName()}.rpc`;
    const responder = await d.respond(subject, (request) => ({
      data: bytes(`hello ${decoder.decode(request.data)}`),
      headers: { "X-Answered": "yes" },
    }));
    try {
      const reply = await d.request(subject, { data: bytes("bob") }, 2_000);
      assert.equal(decoder.decode(reply.data), "hello bob");
      assert.equal(reply.headers["X-Answered"], "yes");
    } finally {
      await responder.close();
    }
  });

  test("a request nobody answers is refused", async (d) => {
    await rejectsWithCode(
      () => d.request(`${uniqueName()}.rpc`, { data: bytes("?") }, 1_000),
      "messaging.no_responders",
    );
  });

  test("a request whose reply is late times out", async (d) => {
    const subject = `${uniqueName()}.slow`;
    const responder = await d.respond(subject, () => new Promise(() => {}));
    try {
      await rejectsWithCode(
        () => d.request(subject, { data: bytes("?") }, 100),
        "messaging.request_timeout",
      );
    } finally {
      await responder.close();
    }
  });

  // --- managing streams and consumers ---

  test("putting a stream creates it once and updates it after", async (d) => {
    const s = uniqueName();
    const spec: StreamSpec = {
      name: s,
      subjects: [`${s}.>`],
      retention: "limits",
      storage: "memory",
    };
    const first = await d.putStream(spec);
    assert.equal(first.created, true);
    assert.equal(first.info.config.duplicateWindow, 120_000);
    const same = await d.putStream(spec);
    assert.equal(same.created, false);
    const updated = await d.putStream({ ...spec, maxMsgs: 10 });
    assert.equal(updated.created, false);
    assert.equal(updated.info.config.maxMsgs, 10);
    const { streams } = await d.listStreams({ limit: 1_000 });
    assert.ok(streams.some((info) => info.config.name === s));
    await d.deleteStream(s);
    await rejectsWithCode(() => d.streamInfo(s), "messaging.stream_not_found");
  });

  test("streams are listed by name, page after page, each once", async (d) => {
    const mine = [await stream(d), await stream(d), await stream(d)];
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await d.listStreams(after === undefined ? { limit: 2 } : { limit: 2, after });
      assert.ok(page.streams.length <= 2);
      seen.push(...page.streams.map((info) => info.config.name));
      if (!page.more) break;
      after = seen.at(-1);
    }
    assert.deepEqual(seen, [...new Set(seen)].sort());
    for (const name of mine) assert.ok(seen.includes(name), name);
  });

  test("a stream's consumers are listed by name, after the name a page ended with", async (d) => {
    const s = await stream(d);
    for (const name of ["c", "a", "B", "b"]) await consumer(d, s, { name });
    const first = await d.listConsumers(s, { limit: 2 });
    assert.deepEqual(first.consumers.map((info) => info.config.name), ["B", "a"]);
    assert.equal(first.more, true);
    const second = await d.listConsumers(s, { limit: 2, after: "a" });
    assert.deepEqual(second.consumers.map((info) => info.config.name), ["b", "c"]);
    assert.equal(second.more, false);
    const past = await d.listConsumers(s, { limit: 2, after: "c" });
    assert.deepEqual(past, { consumers: [], more: false });
  });

  test("a stream whose subjects overlap another stream's is refused", async (d) => {
    const s = await stream(d);
    await rejectsWithCode(
      () => stream(d, { subjects: [`${s}.a.*`] }),
      "messaging.stream_conflict",
    );
  });

  test("a stream whose duplicate window exceeds its max age is refused", async (d) => {
    await rejectsWithCode(
      () => stream(d, { maxAge: 1_000, duplicateWindow: 5_000 }),
      "messaging.stream_invalid",
    );
  });

  test("a missing stream is not found", async (d) => {
    await rejectsWithCode(() => d.streamInfo(uniqueName()), "messaging.stream_not_found");
    await rejectsWithCode(() => d.deleteStream(uniqueName()), "messaging.stream_not_found");
  });

  test("putting a consumer creates it once and updates it after", async (d) => {
    const s = await stream(d);
    const spec: ConsumerSpec = {
      stream: s,
      name: "c",
      filterSubject: `${s}.a`,
      ackWait: 5_000,
      deliver: "all",
      maxAckPending: 100,
    };
    const first = await d.putConsumer(spec);
    assert.equal(first.created, true);
    assert.deepEqual(first.info.config, spec);
    const updated = await d.putConsumer({ ...spec, ackWait: 7_000, maxDeliver: 3 });
    assert.equal(updated.created, false);
    assert.equal(updated.info.config.ackWait, 7_000);
    assert.equal(updated.info.config.maxDeliver, 3);
    await publishAll(d, `${s}.a`, ["1", "2"]);
    const info = await d.consumerInfo(s, "c");
    assert.equal(info.pending, 2);
    const { consumers, more } = await d.listConsumers(s, { limit: 10 });
    assert.deepEqual(consumers.map((info) => info.config.name), ["c"]);
    assert.equal(more, false);
    await d.deleteConsumer(s, "c");
    await rejectsWithCode(() => d.consumerInfo(s, "c"), "messaging.consumer_not_found");
  });

  test("consumer progress is reported", async (d) => {
    const s = await stream(d);
    const c = await consumer(d, s, { ackWait: 200 });
    await publishAll(d, `${s}.a`, ["1", "2", "3"]);
    const got = await fetchAll(d, s, c, 2);
    await d.ack(got[0]!.token, "ack");
    const info = await d.consumerInfo(s, c);
    assert.equal(info.pending, 1);
    assert.equal(info.ackPending, 1);
    assert.equal(info.ackFloor, 1);
    assert.equal(info.lastDelivered, 2);
  });

  test("a consumer filter outside its stream's subjects is refused", async (d) => {
    const s = await stream(d);
    await rejectsWithCode(
      () => consumer(d, s, { filterSubject: `${uniqueName()}.x` }),
      "messaging.consumer_invalid",
    );
  });

  test("consumers of a missing stream or consumer are not found", async (d) => {
    const s = await stream(d);
    await rejectsWithCode(() => consumer(d, uniqueName()), "messaging.stream_not_found");
    await rejectsWithCode(() => d.consumerInfo(s, "nobody"), "messaging.consumer_not_found");
    await rejectsWithCode(
      () => d.fetch(s, "nobody", { batch: 1, wait: 0 }),
      "messaging.consumer_not_found",
    );
  });

  test("the driver is ready once connected and not after close", async (d) => {
    assert.equal(d.ping().status, "ready");
    assert.ok(d.maxPayload() > 0);
    await d.close();
    assert.notEqual(d.ping().status, "ready");
    await rejectsWithCode(() => d.streamInfo("any"), "messaging.unavailable");
    await d.connect();
  });

  // --- capabilities some backends have ---

  const claimsPersistence = options.open().features.has("persistence");
  const restartable = options.restartable;
  if (!restartable) {
    // Only a run that may test less leaves this out; CI must be able to restart the backend to
    // check the claim either way.
    Deno.test({
      name: `messaging contract (${name}): what survives a backend restart matches the claim${
        servicesRequired ? "" : " (ignored: this run cannot restart the backend)"
      }`,
      ignore: !servicesRequired,
      fn() {
        throw new Error(
          `Cannot restart the ${name} backend here (EDGEBOX_REQUIRE_SERVICES=1 needs its binary)`,
        );
      },
    });
  } else if (!claimsPersistence) {
    Deno.test({
      name:
        `messaging contract (${name}): claims no persistence, and a backend restart loses streams`,
      ...SANITIZED,
      async fn() {
        let d = await restartable.open();
        try {
          assert.equal(d.features.has("persistence"), false);
          await d.connect();
          const s = uniqueName();
          await d.putStream({
            name: s,
            subjects: [`${s}.>`],
            retention: "limits",
            storage: "file",
          });
          await publishAll(d, `${s}.a`, ["1"]);
          assert.equal((await d.streamInfo(s)).state.messages, 1);
          d = await restartable.restart(d);
          await rejectsWithCode(() => d.streamInfo(s), "messaging.stream_not_found");
        } finally {
          await d.close();
        }
      },
    });
  } else {
    Deno.test({
      name:
        `messaging contract (${name}): published and acked state survives a backend restart (file storage)`,
      ...SANITIZED,
      async fn() {
        let d = await restartable.open();
        try {
          assert.ok(d.features.has("persistence"));
          await d.connect();
          const s = uniqueName();
          await d.putStream({
            name: s,
            subjects: [`${s}.>`],
            retention: "limits",
            storage: "file",
          });
          const c = await consumer(d, s, { ackWait: 300 });
          await publishAll(d, `${s}.a`, ["1", "2", "3"]);
          const got = await fetchAll(d, s, c, 2);
          await d.ack(got[0]!.token, "ack");
          d = await restartable.restart(d);
          assert.equal((await d.streamInfo(s)).state.messages, 3);
          const after = await fetchAll(d, s, c, 2, 5_000);
          assert.deepEqual(after.map((m) => m.seq).sort(), [2, 3]);
          await d.deleteStream(s);
        } finally {
          await d.close();
        }
      },
    });
  }
}
