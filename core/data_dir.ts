/**
 * The data directory (`server.dataDir`): where durable embedded backends keep their files. The
 * first plugin that asks for a file in it creates the directory and takes its lock, so a second
 * edgebox on the same directory refuses to start instead of two writers corrupting each other.
 *
 * The lock is an SQLite database held in exclusive locking mode: the operating system releases
 * it when the process dies, however it dies (no stale PID files), and SQLite keeps the same lock
 * between two connections of one process, so two edgeboxes in one test process exclude each
 * other as well.
 */
import { DatabaseSync } from "node:sqlite";
import { isAbsolute, join, resolve } from "node:path";
import { PermanentStartError } from "./plugin.ts";

/** The lock file's name inside the data directory. */
export const LOCK_FILE = "edgebox.lock";

/** What a plugin sees of the data directory (`ctx.dataDir`). */
export interface DataDir {
  /** The directory, absolute. Nothing is created until {@linkcode DataDir.file} is called. */
  readonly path: string;
  /**
   * The absolute path of `name` inside the directory, after creating the directory and taking
   * its lock (once per edgebox). Throws a {@linkcode DataDirInUseError} when another edgebox
   * holds it.
   */
  file(name: string): string;
}

/** Another edgebox (or another instance in this process) holds the data directory. */
export class DataDirInUseError extends PermanentStartError {
  override readonly name = "DataDirInUseError";
}

/** The data directory of one edgebox: claimed lazily, released when it stops. */
export class DataDirectory implements DataDir, Disposable {
  readonly path: string;
  #lock: DatabaseSync | undefined;

  constructor(path: string) {
    this.path = isAbsolute(path) ? path : resolve(path);
  }

  file(name: string): string {
    if (name.includes("/") || name.includes("\\") || name === LOCK_FILE || name.startsWith(".")) {
      throw new Error(`"${name}" is not a plain file name in the data directory`);
    }
    this.#claim();
    return join(this.path, name);
  }

  /** Whether this edgebox holds the lock. */
  get claimed(): boolean {
    return this.#lock !== undefined;
  }

  #claim(): void {
    if (this.#lock) return;
    Deno.mkdirSync(this.path, { recursive: true });
    const file = join(this.path, LOCK_FILE);
    const lock = new DatabaseSync(file, { timeout: 0 });
    try {
      // The first write in exclusive mode takes the lock and keeps it until the connection closes.
      lock.exec(
        "PRAGMA locking_mode = EXCLUSIVE;" +
          "CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL, since TEXT NOT NULL);" +
          "DELETE FROM owner;",
      );
      lock.prepare("INSERT INTO owner (pid, since) VALUES (?, ?)").run(
        Deno.pid,
        new Date().toISOString(),
      );
    } catch (error) {
      lock.close();
      if (/locked|busy/i.test(String((error as Error).message))) {
        throw new DataDirInUseError(
          `The data directory ${this.path} is in use by another edgebox (its lock ${file} is ` +
            "held). Stop that one, or give this one its own server.dataDir / EDGEBOX_DATA_DIR.",
        );
      }
      throw error;
    }
    this.#lock = lock;
  }

  /** Releases the lock (the files stay). */
  [Symbol.dispose](): void {
    this.#lock?.close();
    this.#lock = undefined;
  }
}

/** `server.dataDir` when set, else `EDGEBOX_DATA_DIR`, else `./data`. */
export function dataDirPath(configured: string | undefined): string {
  if (configured !== undefined) return configured;
  try {
    return Deno.env.get("EDGEBOX_DATA_DIR") || "./data";
  } catch {
    return "./data"; // no --allow-env
  }
}
