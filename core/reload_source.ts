/**
 * Where a reload reads the config from: the file `serve` was started with, or the text built
 * into the program (which cannot change while edgebox runs, so reloading it changes nothing).
 */
import { ConfigError } from "./config_error.ts";
import type { ReloadSource } from "./reload.ts";

/** The config file at `file`, read again at each reload. */
export function fileSource(file: string): ReloadSource {
  return {
    name: file,
    embedded: false,
    async read() {
      try {
        return await Deno.readTextFile(file);
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
        throw new ConfigError(file, [{
          path: [],
          message: `Cannot read config file: ${reason}`,
          line: 1,
          col: 1,
        }]);
      }
    },
  };
}

/** Config text built into the program, named `name` in messages. */
export function embeddedSource(name: string, text: string): ReloadSource {
  return { name, embedded: true, read: () => Promise.resolve(text) };
}
