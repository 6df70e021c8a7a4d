/**
 * The broker's journal on SQLite: instead of an ever-growing log, each event is materialised
 * into state tables (`sqlite_schema.ts`), so the file holds what the broker holds, and a replay
 * reads that state back as events (`sqlite_replay.ts`).
 *
 * Events are buffered as the broker applies them and written just before each group commit
 * (`CommitQueue`); {@linkcode SqliteJournal.flush} resolves once they are committed, so an
 * operation the broker acknowledges is in the WAL. A failed commit leaves the broker ahead of
 * its file: the journal then refuses to go on ({@linkcode SqliteJournal.failure}) until its
 * owner rebuilds the broker from the file.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { randomBytes } from "node:crypto";
import { CommitQueue, type Durability, openDatabase } from "../../core/sqlite.ts";
import { messagingError } from "./errors.ts";
import type { BrokerEvent, BrokerJournal } from "./journal.ts";
import { type KnownConsumer, type KnownStream, replayEvents } from "./sqlite_replay.ts";
import { MIGRATIONS } from "./sqlite_schema.ts";

/** Options of {@linkcode SqliteJournal}. */
export interface SqliteJournalOptions {
  /** The data file, absolute; created when missing. */
  file: string;
  durability: Durability;
}

/** Statements the writes use, prepared once. */
function prepare(db: DatabaseSync) {
  return {
    putStream: db.prepare(
      "INSERT INTO streams (name, settings, created, last_seq) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (name) DO UPDATE SET settings = excluded.settings RETURNING id",
    ),
    deleteStream: db.prepare("DELETE FROM streams WHERE id = ?"),
    lastSeq: db.prepare("UPDATE streams SET last_seq = ? WHERE id = ?"),
    append: db.prepare(
      "INSERT INTO messages (stream, seq, subject, time, headers, data) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    remove: db.prepare("DELETE FROM messages WHERE stream = ? AND seq = ?"),
    forget: db.prepare(
      "DELETE FROM deliveries WHERE seq = ? AND consumer IN " +
        "(SELECT id FROM consumers WHERE stream = ?)",
    ),
    dedup: db.prepare(
      "INSERT INTO dedup (stream, msg_id, seq, time) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT DO UPDATE SET seq = excluded.seq, time = excluded.time",
    ),
    expire: db.prepare("DELETE FROM dedup WHERE stream = ? AND time <= ?"),
    putConsumer: db.prepare(
      "INSERT INTO consumers (stream, name, spec, created, next_seq, last_delivered) " +
        "VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (stream, name) DO UPDATE SET spec = excluded.spec RETURNING id",
    ),
    deleteConsumer: db.prepare("DELETE FROM consumers WHERE id = ?"),
    cursor: db.prepare("UPDATE consumers SET next_seq = ?, last_delivered = ? WHERE id = ?"),
    deliver: db.prepare(
      "INSERT INTO deliveries (consumer, seq, deliveries, due) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT DO UPDATE SET deliveries = excluded.deliveries, due = excluded.due, " +
        "exhausted = 0",
    ),
    due: db.prepare(
      "UPDATE deliveries SET due = ? WHERE consumer = ? AND seq = ? AND exhausted = 0",
    ),
    settle: db.prepare("DELETE FROM deliveries WHERE consumer = ? AND seq = ? AND exhausted = 0"),
    exhaust: db.prepare(
      "INSERT INTO deliveries (consumer, seq, deliveries, due, exhausted) VALUES (?, ?, 0, 0, 1) " +
        "ON CONFLICT DO UPDATE SET exhausted = 1",
    ),
  } satisfies Record<string, StatementSync>;
}

/** A broker journal that keeps the broker's state in one SQLite file. */
export class SqliteJournal implements BrokerJournal {
  /** The data file. */
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #queue: CommitQueue;
  readonly #sql: ReturnType<typeof prepare>;
  /** Stream name -> its row, filled by the replay and kept up to date by the writes. */
  readonly #streams = new Map<string, KnownStream>();
  #buffer: BrokerEvent[] = [];
  /** Written once per group rather than once per event: stream last sequences... */
  readonly #dirtyStreams = new Set<KnownStream>();
  /** ...and consumer cursors. */
  readonly #dirtyConsumers = new Set<KnownConsumer>();
  /** Streams that took an idempotency key in this group: their expired keys go. */
  readonly #keyed = new Set<KnownStream>();
  /** The group commit in flight, if any. */
  #committing: Promise<void> | undefined;
  #failure: Error | undefined;
  #closed = false;

  /** Opens (creating, migrating, checking) the file; throws a `DataFileError` for a bad one. */
  constructor(options: SqliteJournalOptions) {
    this.file = options.file;
    this.#db = openDatabase(options.file, {
      durability: options.durability,
      migrations: MIGRATIONS,
    });
    this.#sql = prepare(this.#db);
    this.#queue = new CommitQueue(this.#db, { beforeCommit: () => this.#write() });
  }

  /** Why the journal stopped writing, once a commit failed; the broker is then ahead of it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The ack token secret kept in the file, drawn on first use, so tokens survive a restart. */
  ackSecret(): string {
    this.#db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('ack_secret', ?)").run(
      randomBytes(32).toString("base64url"),
    );
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'ack_secret'").get() as {
      value: string;
    };
    return row.value;
  }

  replay(): Iterable<BrokerEvent> {
    const now = Date.now();
    // Keys past their window would be dropped by the broker anyway; drop their rows as well.
    this.#db.prepare(
      "DELETE FROM dedup WHERE time <= ? - " +
        "(SELECT json_extract(settings, '$.duplicateWindow') FROM streams WHERE id = dedup.stream)",
    ).run(now);
    return replayEvents(this.#db, this.#streams, now);
  }

  append(event: BrokerEvent): void {
    if (this.#failure || this.#closed) return; // the owner rebuilds from the file anyway
    this.#buffer.push(event);
  }

  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#unavailable(this.#failure));
    if (this.#buffer.length > 0 && !this.#closed) {
      const committed = this.#queue.commit().catch((error: unknown) => {
        this.#failure ??= error instanceof Error ? error : new Error(String(error));
        throw this.#unavailable(error);
      });
      this.#committing = committed;
      const settled = () => {
        if (this.#committing === committed) this.#committing = undefined;
      };
      committed.then(settled, settled);
    }
    // With nothing new buffered, a caller still waits for the group in flight: what it read
    // (a duplicate's original, say) may be in there.
    return this.#committing ?? Promise.resolve();
  }

  /** Commits what is buffered and closes the file; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const committed = this.flush();
    this.#queue.flush(); // now, rather than on the next turn
    this.#closed = true;
    try {
      await committed;
    } finally {
      this.#db.close();
    }
  }

  #unavailable(cause: unknown): Error {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return messagingError.unavailable(
      `Cannot write the messaging data file ${this.file}: ${reason}`,
      cause,
    );
  }

  /** Writes the buffered events; runs inside the group transaction, just before COMMIT. */
  #write(): void {
    const events = this.#buffer;
    this.#buffer = [];
    for (const event of events) this.#apply(event);
    for (const stream of this.#dirtyStreams) this.#sql.lastSeq.run(stream.lastSeq, stream.id);
    for (const consumer of this.#dirtyConsumers) {
      this.#sql.cursor.run(consumer.nextSeq, consumer.lastDelivered, consumer.id);
    }
    const now = Date.now();
    for (const stream of this.#keyed) this.#sql.expire.run(stream.id, now - stream.duplicateWindow);
    this.#dirtyStreams.clear();
    this.#dirtyConsumers.clear();
    this.#keyed.clear();
  }

  #apply(event: BrokerEvent): void {
    const sql = this.#sql;
    switch (event.type) {
      case "stream.put": {
        const { settings } = event;
        const row = sql.putStream.get(
          settings.name,
          JSON.stringify(settings),
          event.created,
          event.lastSeq ?? 0,
        ) as { id: number };
        const known = this.#streams.get(settings.name);
        if (known) known.duplicateWindow = settings.duplicateWindow;
        else {
          this.#streams.set(settings.name, {
            id: row.id,
            duplicateWindow: settings.duplicateWindow,
            lastSeq: event.lastSeq ?? 0,
            consumers: new Map(),
          });
        }
        return;
      }
      case "stream.delete": {
        const stream = this.#streams.get(event.stream);
        if (!stream) return;
        sql.deleteStream.run(stream.id);
        this.#streams.delete(event.stream);
        this.#dirtyStreams.delete(stream);
        this.#keyed.delete(stream);
        for (const consumer of stream.consumers.values()) this.#dirtyConsumers.delete(consumer);
        return;
      }
      case "message.append": {
        const stream = this.#streams.get(event.stream)!;
        const headers = Object.keys(event.headers).length === 0
          ? null
          : JSON.stringify(event.headers);
        sql.append.run(stream.id, event.seq, event.subject, event.time, headers, event.data);
        stream.lastSeq = Math.max(stream.lastSeq, event.seq);
        this.#dirtyStreams.add(stream);
        if (event.msgId !== undefined) {
          sql.dedup.run(stream.id, event.msgId, event.seq, event.time);
          this.#keyed.add(stream);
        }
        return;
      }
      case "message.remove": {
        const stream = this.#streams.get(event.stream)!;
        sql.remove.run(stream.id, event.seq);
        if (stream.consumers.size > 0) sql.forget.run(event.seq, stream.id);
        return;
      }
      case "message.dedup": {
        const stream = this.#streams.get(event.stream)!;
        sql.dedup.run(stream.id, event.msgId, event.seq, event.time);
        this.#keyed.add(stream);
        return;
      }
      case "consumer.put": {
        const { spec } = event;
        const stream = this.#streams.get(spec.stream)!;
        const row = sql.putConsumer.get(
          stream.id,
          spec.name,
          JSON.stringify(spec),
          event.created,
          event.nextSeq,
          event.lastDelivered ?? 0,
        ) as { id: number };
        if (!stream.consumers.has(spec.name)) {
          stream.consumers.set(spec.name, {
            id: row.id,
            nextSeq: event.nextSeq,
            lastDelivered: event.lastDelivered ?? 0,
          });
        }
        return;
      }
      case "consumer.delete": {
        const stream = this.#streams.get(event.stream)!;
        const consumer = stream.consumers.get(event.consumer);
        if (!consumer) return;
        sql.deleteConsumer.run(consumer.id);
        stream.consumers.delete(event.consumer);
        this.#dirtyConsumers.delete(consumer);
        return;
      }
      case "consumer.deliver": {
        const consumer = this.#consumer(event.stream, event.consumer);
        sql.deliver.run(consumer.id, event.seq, event.deliveries, event.due);
        consumer.nextSeq = Math.max(consumer.nextSeq, event.seq + 1);
        consumer.lastDelivered = Math.max(consumer.lastDelivered, event.seq);
        this.#dirtyConsumers.add(consumer);
        return;
      }
      case "consumer.due":
        sql.due.run(event.due, this.#consumer(event.stream, event.consumer).id, event.seq);
        return;
      case "consumer.settle":
        sql.settle.run(this.#consumer(event.stream, event.consumer).id, event.seq);
        return;
      case "consumer.exhaust":
        sql.exhaust.run(this.#consumer(event.stream, event.consumer).id, event.seq);
        return;
    }
  }

  #consumer(stream: string, name: string): KnownConsumer {
    return this.#streams.get(stream)!.consumers.get(name)!;
  }
}
