/**
 * The NATS driver's publish acks (plugins/messaging/nats_acks.ts), against a real NATS server:
 * each publish resolves with its own stream ack, and every other ending (no stream, no ack in
 * time, a closed connection) rejects with the error type the driver maps, leaving nothing waiting.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { errors, headers } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckWaiters, NoStreamForSubject } from "../../plugins/messaging/nats_acks.ts";
import { realService } from "../contract/_services.ts";
import { SANITIZED } from "../_helpers.ts";

const url = Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222";

/** A connection with a stream of its own on `<prefix>.>`, removed afterwards. */
async function withStream(
  work: (nc: NatsConnection, prefix: string) => Promise<void>,
): Promise<void> {
  const token = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: `ACKS_${token}`, subjects: [`acks.${token}.>`] });
  try {
    await work(nc, `acks.${token}`);
  } finally {
    await jsm.streams.delete(`ACKS_${token}`).catch(() => {});
    await nc.close();
  }
}

if (await realService("NATS", url, 4222)) {
  Deno.test("concurrent publishes each resolve with their own ack", SANITIZED, async () => {
    await withStream(async (nc, prefix) => {
      const acks = new AckWaiters(nc, 5_000);
      const published = await Promise.all(
        Array.from({ length: 200 }, (_, i) => acks.publish(`${prefix}.e`, new Uint8Array([i]))),
      );
      assert.deepEqual(
        published.map((ack) => ack.seq).sort((a, b) => a - b),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.ok(published.every((ack) => ack.stream.startsWith("ACKS_") && !ack.duplicate));
      assert.equal(acks.waiting, 0);
      acks.close();
    });
  });

  Deno.test("a repeated Nats-Msg-Id is acked as a duplicate of the first", SANITIZED, async () => {
    await withStream(async (nc, prefix) => {
      const acks = new AckWaiters(nc, 5_000);
      const id = headers();
      id.set("Nats-Msg-Id", "once");
      const first = await acks.publish(`${prefix}.e`, new Uint8Array([1]), id);
      const again = await acks.publish(`${prefix}.e`, new Uint8Array([1]), id);
      assert.deepEqual(again, { ...first, duplicate: true });
      acks.close();
    });
  });

  Deno.test("a subject no stream captures rejects as no stream", SANITIZED, async () => {
    await withStream(async (nc) => {
      const acks = new AckWaiters(nc, 5_000);
      await assert.rejects(
        acks.publish(`nostream.${crypto.randomUUID()}`, new Uint8Array()),
        NoStreamForSubject,
      );
      assert.equal(acks.waiting, 0);
      acks.close();
    });
  });

  Deno.test(
    "an ack that never comes times out, and nothing is left waiting",
    SANITIZED,
    async () => {
      await withStream(async (nc) => {
        // A plain subscriber takes the message and never answers.
        const subject = `silent.${crypto.randomUUID()}`;
        const silent = nc.subscribe(subject);
        await nc.flush();
        const acks = new AckWaiters(nc, 100);
        await assert.rejects(acks.publish(subject, new Uint8Array()), errors.TimeoutError);
        assert.equal(acks.waiting, 0);
        silent.unsubscribe();
        acks.close();
      });
    },
  );

  Deno.test(
    "closing the connection rejects what waits, as a closed connection",
    SANITIZED,
    async () => {
      const nc = await connect({ servers: url });
      const subject = `silent.${crypto.randomUUID()}`;
      const silent = nc.subscribe(subject);
      await nc.flush();
      const acks = new AckWaiters(nc, 10_000);
      const waiting = acks.publish(subject, new Uint8Array());
      silent.unsubscribe();
      await nc.close();
      await assert.rejects(waiting, errors.ClosedConnectionError);
      await assert.rejects(acks.publish(subject, new Uint8Array()), errors.ClosedConnectionError);
      assert.equal(acks.waiting, 0);
    },
  );
}
