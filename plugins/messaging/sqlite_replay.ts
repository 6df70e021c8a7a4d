/**
 * Reading the messaging data file back as the events that rebuild the broker's state: per
 * stream its settings and last sequence, the idempotency keys still inside their window, the
 * messages kept, then each consumer with its cursor and unsettled deliveries. Large tables are
 * read a page at a time (keyset paging, rows as arrays), never as a whole: on `node:sqlite` that
 * is about three times faster than stepping `iterate()` row by row, whose cost is per row.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { ConsumerSpec, MessageHeaders, StreamSettings } from "./driver.ts";
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

/** Rows read per query; any size from a few hundred up performs the same. */
const PAGE = 1_000;

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
  // Oldest first, as the broker recorded them: it expires keys from the front.
  const dedup = arrays(db.prepare(
    "SELECT time, seq, msg_id FROM dedup WHERE stream = ? AND (time, seq) > (?, ?) " +
      `ORDER BY time, seq LIMIT ${PAGE}`,
  ));
  const messages = arrays(db.prepare(
    "SELECT seq, subject, time, headers, data FROM messages WHERE stream = ? AND seq > ? " +
      `ORDER BY seq LIMIT ${PAGE}`,
  ));
  const consumers = db.prepare(
    "SELECT id, spec, created, next_seq, last_delivered FROM consumers WHERE stream = ? " +
      "ORDER BY id",
  );
  const deliveries = arrays(db.prepare(
    "SELECT seq, deliveries, due, exhausted FROM deliveries WHERE consumer = ? AND seq > ? " +
      `ORDER BY seq LIMIT ${PAGE}`,
  ));
  for (const row of streams.all() as unknown as StreamRow[]) {
    const settings = JSON.parse(row.settings) as StreamSettings;
    const stream = row.name;
    const consumerRows = new Map<string, KnownConsumer>();
    known.set(stream, {
      id: row.id,
      duplicateWindow: settings.duplicateWindow,
      lastSeq: row.last_seq,
      consumers: consumerRows,
    });
    yield { type: "stream.put", settings, created: row.created, lastSeq: row.last_seq };
    // Past (window start, any sequence): keys inside the window, by a range on the index.
    const start = [now - settings.duplicateWindow, Number.MAX_SAFE_INTEGER];
    for (const [time, seq, msgId] of paged<DedupRow>(dedup, [row.id], start, keyOf2)) {
      yield { type: "message.dedup", stream, msgId, seq, time };
    }
    for (const message of paged<MessageRow>(messages, [row.id], [0], keyOf1)) {
      const [seq, subject, time, headers, data] = message;
      yield {
        type: "message.append",
        stream,
        seq,
        subject,
        time,
        headers: headers === null ? {} : JSON.parse(headers) as MessageHeaders,
        data,
      };
    }
    for (const consumer of consumers.all(row.id) as unknown as ConsumerRow[]) {
      const spec = JSON.parse(consumer.spec) as ConsumerSpec;
      consumerRows.set(spec.name, {
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
      for (
        const [seq, count, due, exhausted] of paged<DeliveryRow>(
          deliveries,
          [consumer.id],
          [0],
          keyOf1,
        )
      ) {
        yield exhausted
          ? { type: "consumer.exhaust", ...ref, seq }
          : { type: "consumer.deliver", ...ref, seq, deliveries: count, due };
      }
    }
  }
}

type DedupRow = [time: number, seq: number, msgId: string];
type MessageRow = [
  seq: number,
  subject: string,
  time: number,
  headers: string | null,
  data: Uint8Array,
];
type DeliveryRow = [seq: number, deliveries: number, due: number, exhausted: number];

/** `statement`, returning rows as arrays (in Deno's `node:sqlite`, missing from its types). */
function arrays(statement: StatementSync): StatementSync {
  (statement as StatementSync & { setReturnArrays(enabled: boolean): void }).setReturnArrays(true);
  return statement;
}

const keyOf1 = (row: readonly unknown[]) => [row[0]] as SQLInputValue[];
const keyOf2 = (row: readonly unknown[]) => [row[0], row[1]] as SQLInputValue[];

/**
 * The rows of a keyset-paged query: `statement` takes `fixed` parameters, then the key of the
 * last row read (`start` before the first page), and returns at most {@linkcode PAGE} rows.
 */
function* paged<Row extends unknown[]>(
  statement: StatementSync,
  fixed: SQLInputValue[],
  start: SQLInputValue[],
  keyOf: (row: Row) => SQLInputValue[],
): Generator<Row> {
  let after = start;
  for (;;) {
    const rows = statement.all(...fixed, ...after) as unknown as Row[];
    yield* rows;
    if (rows.length < PAGE) return;
    after = keyOf(rows[rows.length - 1]!);
  }
}
