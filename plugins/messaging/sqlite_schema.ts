/**
 * The tables of the messaging data file. They hold the broker's state, not its history: a
 * removed message is a deleted row, so the file tracks what the broker keeps. Deleting a stream
 * cascades to everything under it (`openDatabase` turns foreign keys on).
 */
import type { Migration } from "../../core/sqlite.ts";

/** Step `i` takes the file from schema version `i` to `i + 1` (see `openDatabase`). */
export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  -- settings: StreamSettings as JSON. last_seq: the last sequence ever assigned, which may be
  -- past the last row left in messages (sequences never repeat).
  CREATE TABLE streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
  );

  -- headers: JSON, NULL when there are none.
  CREATE TABLE messages (
    stream INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    subject TEXT NOT NULL,
    time INTEGER NOT NULL,
    headers TEXT,
    data BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
  );

  -- Idempotency keys inside the duplicate window; they outlive their message when limits
  -- remove it first.
  CREATE TABLE dedup (
    stream INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    msg_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time INTEGER NOT NULL,
    PRIMARY KEY (stream, msg_id)
  ) WITHOUT ROWID;
  CREATE INDEX dedup_by_time ON dedup (stream, time, seq);

  -- spec: ConsumerSpec as JSON. next_seq: every sequence below it was delivered (or skipped), so
  -- below it only the rows in deliveries are still owed an ack.
  CREATE TABLE consumers (
    id INTEGER PRIMARY KEY,
    stream INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    last_delivered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (stream, name)
  );

  -- Deliveries not settled: pending until due (then redelivered), or exhausted (maxDeliver
  -- reached: never delivered again, never acked).
  CREATE TABLE deliveries (
    consumer INTEGER NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    deliveries INTEGER NOT NULL,
    due INTEGER NOT NULL,
    exhausted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer, seq)
  ) WITHOUT ROWID;
  `,
];
