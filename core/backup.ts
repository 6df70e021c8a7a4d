/**
 * `edgebox backup` and `edgebox restore`: copies of the durable embedded instances (the
 * `<instance>.db` files in the data directory).
 *
 * A backup runs beside a serving edgebox: each file is copied with `VACUUM INTO`, one consistent
 * snapshot per instance (WAL lets the reader see one committed state while edgebox keeps
 * writing). A restore runs while edgebox is stopped: it takes the data directory's lock (so it
 * refuses while an edgebox holds it), checks every file of the backup first, then puts each in
 * place by rename, removing the old file's WAL, so a restore never leaves half a file behind.
 */
import { basename, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { EdgeboxConfig } from "./config.ts";
import { DataDirectory, dataDirPath } from "./data_dir.ts";
import { backupDatabase } from "./sqlite.ts";
import { VERSION } from "./version.ts";

/** The manifest a backup directory carries. */
export const MANIFEST = "edgebox-backup.json";

/** What a backup or a restore did, one entry per instance. */
export interface BackupReport {
  dataDir: string;
  instances: { instance: string; file: string; bytes: number }[];
}

/** A backup or restore that cannot be done; the message is the line edgebox exits with. */
export class BackupError extends Error {
  override readonly name = "BackupError";
}

/** The enabled instances of `config` that have a database file in the data directory. */
function durableFiles(
  config: EdgeboxConfig,
  dataDir: string,
): { instance: string; file: string }[] {
  return config.plugins
    .filter((plugin) => plugin.enabled)
    .map((plugin) => ({ instance: plugin.name, file: join(dataDir, `${plugin.name}.db`) }))
    .filter(({ file }) => exists(file));
}

/** Copies every durable instance of `config` into `out` (a new or empty directory). */
export function backup(config: EdgeboxConfig, out: string): BackupReport {
  const dataDir = new DataDirectory(dataDirPath(config.server.dataDir)).path;
  const files = durableFiles(config, dataDir);
  if (files.length === 0) {
    throw new BackupError(
      `Nothing to back up: no enabled instance has a database in ${dataDir} (only the sqlite ` +
        "backends keep one; storage's filesystem objects are plain files to copy as they are)",
    );
  }
  Deno.mkdirSync(out, { recursive: true });
  if ([...Deno.readDirSync(out)].length > 0) {
    throw new BackupError(`${out} is not empty: back up into a new directory`);
  }
  const instances = files.map(({ instance, file }) => {
    const target = join(out, basename(file));
    backupDatabase(file, target);
    return { instance, file: basename(file), bytes: Deno.statSync(target).size };
  });
  Deno.writeTextFileSync(
    join(out, MANIFEST),
    JSON.stringify({ edgebox: VERSION, takenAt: new Date().toISOString(), instances }, null, 2) +
      "\n",
  );
  return { dataDir, instances };
}

/** Puts the backup in `from` in place of the data directory's instance files. */
export function restore(config: EdgeboxConfig, from: string): BackupReport {
  let manifest: { instances: { instance: string; file: string }[] };
  try {
    manifest = JSON.parse(Deno.readTextFileSync(join(from, MANIFEST)));
  } catch (error) {
    throw new BackupError(
      `${from} is not an edgebox backup (${MANIFEST}: ${(error as Error).message})`,
    );
  }
  const known = new Set(config.plugins.filter((p) => p.enabled).map((p) => p.name));
  const unknown = manifest.instances.filter((entry) => !known.has(entry.instance));
  if (unknown.length > 0) {
    throw new BackupError(
      `The backup holds instances this config does not enable: ${
        unknown.map((u) => u.instance).join(", ")
      }`,
    );
  }
  // Every file is checked before any is put in place.
  for (const entry of manifest.instances) checkFile(join(from, entry.file));
  using dataDir = new DataDirectory(dataDirPath(config.server.dataDir));
  const instances = manifest.instances.map((entry) => {
    const target = dataDir.file(`${entry.instance}.db`);
    const staging = `${target}.restoring`;
    Deno.copyFileSync(join(from, entry.file), staging);
    for (const suffix of ["-wal", "-shm"]) removeIfPresent(target + suffix);
    Deno.renameSync(staging, target);
    return { instance: entry.instance, file: target, bytes: Deno.statSync(target).size };
  });
  return { dataDir: dataDir.path, instances };
}

function checkFile(file: string): void {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    if (rows.length !== 1 || rows[0]!.quick_check !== "ok") {
      throw new Error(rows.map((r) => r.quick_check).join("; "));
    }
  } catch (error) {
    throw new BackupError(`${file} fails its integrity check: ${(error as Error).message}`);
  } finally {
    db?.close();
  }
}

function exists(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

function removeIfPresent(file: string): void {
  try {
    Deno.removeSync(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
