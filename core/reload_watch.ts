/**
 * `serve --watch-config`: calls back when the config file changes, once per burst of changes.
 * The directory is watched, not the file: editors save by writing a new file and renaming it over
 * the old one, which a watch on the old file would never see.
 */
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "./log.ts";
import { messageOf } from "./timing.ts";

/** Options of {@linkcode watchConfigFile}. */
export interface WatchOptions {
  /** Quiet time after the last change before `onChange` runs (editors write in several steps). */
  debounceMs?: number;
  log: Logger;
}

/** Watches `file`; dispose the result to stop. */
export function watchConfigFile(
  file: string,
  onChange: () => void,
  options: WatchOptions,
): AsyncDisposable {
  const path = resolve(file);
  const name = basename(path);
  const debounceMs = options.debounceMs ?? 250;
  const watcher = Deno.watchFs(dirname(path), { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access" || !event.paths.some((p) => basename(p) === name)) continue;
        clearTimeout(timer);
        timer = setTimeout(() => {
          timer = undefined;
          onChange();
        }, debounceMs);
      }
    } catch (error) {
      options.log.error("cannot watch the config file any more", {
        file: path,
        error: messageOf(error),
      });
    }
  })();
  options.log.info("watching the config file", { file: path });
  return {
    async [Symbol.asyncDispose]() {
      clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // closed already (the loop ended on an error)
      }
      await loop;
    },
  };
}
