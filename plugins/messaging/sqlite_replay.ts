/**
 * Reading the messaging data file back as the events that rebuild the broker's state: per
 * stream its settings and last sequence, the idempotency keys still inside their window, the
 * messages kept, then each consumer with its cursor and unsettled deliveries. Rows are streamed
 * (`iterate`), never loaded as a whole, and each becomes one event.
 */
import type { DatabaseSync } from "node:sqlite";
import type { ConsumerSpec, StreamSettings } from "./driver.ts";
import type { BrokerEvent } from "./journal.ts";

/** A stream the journal knows: its row id and what its writes need to remember. */
export interface KnownStream {
  id: number;
  duplicateWindow: number;
  lastSeq: number;
  /** Consumer name -> its row. */
  consumers: Map<string, KnownConsumer>;
}

/** A consumer the journal knows: its row id and cursor. */
export interface KnownConsumer {
  id: number;
  nextSeq: number;
  lastDelivered: number;
}

interface StreamRow {
  id: number;
  name: string;
  settings: string;
  created: number;
  last_seq: number;
}

interface ConsumerRow {
  id: number;
  spec: string;
  created: number;
  next_seq: number;
  last_delivered: number;
}

const NO_HEADERS = "{}";

/**
 * The events that rebuild the state in `db`, recording each stream and consumer in `known` as
 * it goes. Idempotency keys older than their window (at `now`) are left out.
 */
export function* replayEvents(
  db: DatabaseSync,
  known: Map<string, KnownStream>,
  now: number,
): Generator<BrokerEvent> {
  const streams = db.prepare(
    "SELECT id, name, settings, created, last_seq FROM streams ORDER BY id",
  );
  // Oldest first: the broker expires keys from the front.
  const dedup = db.prepare(
    "SELECT msg_id, seq, time FROM dedup WHERE stream = ? AND time > ? ORDER BY time, seq",
  );
  const messages = db.prepare(
    "SELECT seq, subject, time, headers, data FROM messages WHERE stream = ? ORDER BY seq",
  );
  const consumers = db.prepare(
    "SELECT id, spec, created, next_seq, last_delivered FROM consumers WHERE stream = ? " +
      "ORDER BY id",
  );
  const deliveries = db.prepare(
    "SELECT seq, deliveries, due, exhausted FROM deliveries WHERE consumer = ? ORDER BY seq",
  );
  for (const row of streams.iterate() as Iterable<StreamRow>) {
    const settings = JSON.parse(row.settings) as StreamSettings;
    const stream = row.name;
    known.set(stream, {
      id: row.id,
      duplicateWindow: settings.duplicateWindow,
      lastSeq: row.last_seq,
      consumers: new Map(),
    });
    yield { type: "stream.put", settings, created: row.created, lastSeq: row.last_seq };
    const since = now - settings.duplicateWindow;
    for (const key of dedup.iterate(row.id, since) as Iterable<DedupRow>) {
      yield { type: "message.dedup", stream, msgId: key.msg_id, seq: key.seq, time: key.time };
    }
    for (const message of messages.iterate(row.id) as Iterable<MessageRow>) {
      yield {
        type: "message.append",
        stream,
        seq: message.seq,
        subject: message.subject,
        time: message.time,
        headers: JSON.parse(message.headers ?? NO_HEADERS),
        data: message.data,
      };
    }
    for (const consumer of consumers.iterate(row.id) as Iterable<ConsumerRow>) {
      const spec = JSON.parse(consumer.spec) as ConsumerSpec;
      known.get(stream)!.consumers.set(spec.name, {
        id: consumer.id,
        nextSeq: consumer.next_seq,
        lastDelivered: consumer.last_delivered,
      });
      yield {
        type: "consumer.put",
        spec,
        created: consumer.created,
        nextSeq: consumer.next_seq,
        lastDelivered: consumer.last_delivered,
      };
      const ref = { stream, consumer: spec.name };
      for (const delivery of deliveries.iterate(consumer.id) as Iterable<DeliveryRow>) {
        yield delivery.exhausted ? { type: "consumer.exhaust", ...ref, seq: delivery.seq } : {
          type: "consumer.deliver",
          ...ref,
          seq: delivery.seq,
          deliveries: delivery.deliveries,
          due: delivery.due,
        };
      }
    }
  }
}

interface DedupRow {
  msg_id: string;
  seq: number;
  time: number;
}

interface MessageRow {
  seq: number;
  subject: string;
  time: number;
  headers: string | null;
  data: Uint8Array;
}

interface DeliveryRow {
  seq: number;
  deliveries: number;
  due: number;
  exhausted: number;
}
