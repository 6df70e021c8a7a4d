/**
 * Specification of `core/sqlite.ts`: a data file opens in WAL mode with the durability asked
 * for, a damaged or newer file is refused naming it, schemas migrate forward once, writes are
 * committed in groups (each resolving only after its group commits, a failing one rolled back
 * alone), and a backup is a consistent copy taken while the owner writes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  backupDatabase,
  CommitQueue,
  DataFileError,
  type Migration,
  openDatabase,
} from "../../core/sqlite.ts";
import { PermanentStartError } from "../../core/plugin.ts";
import { SANITIZED, tempDir } from "../_helpers.ts";

const SCHEMA: Migration[] = ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"];
const count = (db: DatabaseSync) =>
  (db.prepare("SELECT count(*) AS n FROM items").get() as { n: number }).n;

Deno.test("a new file opens in WAL mode at the latest schema version", SANITIZED, () => {
  using temp = tempDir();
  const db = openDatabase(join(temp.path, "a.db"), { durability: "normal", migrations: SCHEMA });
  try {
    assert.deepEqual({ ...db.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    assert.deepEqual({ ...db.prepare("PRAGMA user_version").get() }, { user_version: 1 });
    assert.deepEqual({ ...db.prepare("PRAGMA synchronous").get() }, { synchronous: 1 });
  } finally {
    db.close();
  }
});

Deno.test("durability fsync is synchronous=FULL", SANITIZED, () => {
  using temp = tempDir();
  const db = openDatabase(join(temp.path, "a.db"), { durability: "fsync", migrations: SCHEMA });
  try {
    assert.deepEqual({ ...db.prepare("PRAGMA synchronous").get() }, { synchronous: 2 });
  } finally {
    db.close();
  }
});

Deno.test("migrations run forward once, from the file's version", SANITIZED, () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  openDatabase(file, { durability: "normal", migrations: SCHEMA }).close();
  let ran = 0;
  const next: Migration[] = [
    ...SCHEMA,
    "ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
    () => ran++,
  ];

  openDatabase(file, { durability: "normal", migrations: next }).close();
  const db = openDatabase(file, { durability: "normal", migrations: next });
  try {
    assert.equal(ran, 1);
    assert.deepEqual({ ...db.prepare("PRAGMA user_version").get() }, { user_version: 3 });
    db.prepare("INSERT INTO items (name, size) VALUES ('a', 3)").run();
  } finally {
    db.close();
  }
});

Deno.test("a file from a newer edgebox is refused, naming it", SANITIZED, () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  openDatabase(file, { durability: "normal", migrations: [...SCHEMA, "SELECT 1"] }).close();

  assert.throws(() => openDatabase(file, { durability: "normal", migrations: SCHEMA }), (e) => {
    assert.ok(e instanceof DataFileError);
    assert.ok(e instanceof PermanentStartError, "not retried");
    assert.match(e.message, new RegExp(`${file} has schema version 2, newer than .* \\(1\\)`));
    return true;
  });
});

Deno.test("a damaged file is refused with its name and what to do", SANITIZED, () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  Deno.writeFileSync(file, new TextEncoder().encode("this is not a database ".repeat(500)));

  assert.throws(() => openDatabase(file, { durability: "normal", migrations: SCHEMA }), (e) => {
    assert.ok(e instanceof DataFileError);
    assert.match(e.message, new RegExp(`data file ${file} is damaged`));
    assert.match(e.message, /restore it from a backup/);
    return true;
  });
});

Deno.test("a file whose pages were overwritten fails its integrity check", SANITIZED, () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  const db = openDatabase(file, { durability: "normal", migrations: SCHEMA });
  const insert = db.prepare("INSERT INTO items (name) VALUES (?)");
  for (let i = 0; i < 2_000; i++) insert.run(`item ${i} `.repeat(10));
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  // Scribble over the middle of the file: b-tree pages, not the header.
  const bytes = Deno.readFileSync(file);
  bytes.fill(0x5a, 8 * 4096, 12 * 4096);
  Deno.writeFileSync(file, bytes);

  assert.throws(
    () => openDatabase(file, { durability: "normal", migrations: SCHEMA }),
    DataFileError,
  );
});

Deno.test("writes in one turn of the event loop share one commit", SANITIZED, async () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  const db = openDatabase(file, { durability: "normal", migrations: SCHEMA });
  try {
    const queue = new CommitQueue(db);
    const insert = db.prepare("INSERT INTO items (name) VALUES (?)");

    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => queue.run(() => insert.run(`n${i}`).lastInsertRowid)),
    );

    assert.equal(ids.length, 50);
    assert.deepEqual(queue.stats, { commits: 1, writes: 50 });
    const reader = new DatabaseSync(file, { readOnly: true });
    assert.equal(count(reader), 50, "committed: another connection sees every row");
    reader.close();
  } finally {
    db.close();
  }
});

Deno.test("a write that throws is rolled back alone", SANITIZED, async () => {
  using temp = tempDir();
  const db = openDatabase(join(temp.path, "a.db"), { durability: "normal", migrations: SCHEMA });
  try {
    const queue = new CommitQueue(db);
    const insert = db.prepare("INSERT INTO items (name) VALUES (?)");

    const results = await Promise.allSettled([
      queue.run(() => insert.run("kept")),
      queue.run(() => {
        insert.run("half");
        throw new Error("refused");
      }),
      queue.run(() => insert.run("also kept")),
    ]);

    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.deepEqual(
      db.prepare("SELECT name FROM items ORDER BY id").all().map((r) => r.name),
      ["kept", "also kept"],
    );
  } finally {
    db.close();
  }
});

Deno.test(
  "beforeCommit writes what was marked dirty in the same transaction",
  SANITIZED,
  async () => {
    using temp = tempDir();
    const db = openDatabase(join(temp.path, "a.db"), { durability: "normal", migrations: SCHEMA });
    try {
      const dirty = new Set<string>();
      const insert = db.prepare("INSERT INTO items (name) VALUES (?)");
      const queue = new CommitQueue(db, {
        beforeCommit: () => {
          for (const name of dirty) insert.run(name);
          dirty.clear();
        },
      });

      dirty.add("a");
      const first = queue.commit();
      dirty.add("b");
      await Promise.all([first, queue.commit()]);

      assert.equal(count(db), 2);
      assert.equal(queue.stats.commits, 1);
    } finally {
      db.close();
    }
  },
);

Deno.test("a group whose commit fails rejects every write in it", SANITIZED, async () => {
  using temp = tempDir();
  const db = openDatabase(join(temp.path, "a.db"), { durability: "normal", migrations: SCHEMA });
  try {
    const queue = new CommitQueue(db, {
      beforeCommit: () => {
        throw new Error("disk full");
      },
    });
    const insert = db.prepare("INSERT INTO items (name) VALUES (?)");

    const results = await Promise.allSettled([
      queue.run(() => insert.run("a")),
      queue.run(() => insert.run("b")),
    ]);

    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(count(db), 0, "nothing half-written");
  } finally {
    db.close();
  }
});

Deno.test("a backup taken while the owner writes is a consistent copy", SANITIZED, async () => {
  using temp = tempDir();
  const file = join(temp.path, "a.db");
  const db = openDatabase(file, { durability: "normal", migrations: SCHEMA });
  try {
    const queue = new CommitQueue(db);
    const insert = db.prepare("INSERT INTO items (name) VALUES (?)");
    await Promise.all(Array.from({ length: 100 }, (_, i) => queue.run(() => insert.run(`${i}`))));
    // A group left open (not yet committed) when the backup runs is not in it.
    const pending = queue.run(() => insert.run("late"));

    backupDatabase(file, join(temp.path, "copy.db"));
    await pending;

    const copy = openDatabase(join(temp.path, "copy.db"), {
      durability: "normal",
      migrations: SCHEMA,
    });
    assert.equal(count(copy), 100);
    copy.close();
  } finally {
    db.close();
  }
});
