/** Spawns edgebox (from source, or a compiled binary) as a real process for black-box tests. */

/** A running edgebox process. */
export interface EdgeboxProcess {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  child: Deno.ChildProcess;
  /** Every stderr line so far (JSON log lines and fatal messages). */
  lines: string[];
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
  /** Waits for exit and for the output to be fully read. */
  exited(): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode spawnEdgebox}. */
export interface SpawnOptions {
  /** Arguments after the program (default `serve --port 0`). */
  args?: string[];
  /** Run this executable instead of `deno run main.ts`. */
  binary?: string;
  /** Permission flags of `deno run` (default `--allow-all`). */
  permissions?: string[];
  /** `EDGEBOX_DATA_DIR` defaults to a fresh temporary directory, removed once edgebox exits. */
  env?: Record<string, string>;
}

const decoder = new TextDecoder();

/** Starts edgebox; resolves once it logs `listening` (or rejects with its output if it exits). */
export async function spawnEdgebox(options: SpawnOptions = {}): Promise<EdgeboxProcess> {
  const args = options.args ?? ["serve", "--port", "0"];
  // Each edgebox gets a data directory of its own: tests run side by side.
  const ownDataDir = options.env?.EDGEBOX_DATA_DIR === undefined
    ? Deno.makeTempDirSync({ prefix: "edgebox-e2e-" })
    : undefined;
  const env = { EDGEBOX_DATA_DIR: ownDataDir!, ...options.env, NO_COLOR: "1" };
  const command = options.binary
    ? new Deno.Command(options.binary, {
      args,
      stdout: "null",
      stderr: "piped",
      env,
    })
    : new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(options.permissions ?? ["--allow-all"]),
        new URL("../../main.ts", import.meta.url).pathname,
        ...args,
      ],
      stdout: "null",
      stderr: "piped",
      env,
    });
  const child = command.spawn();
  const lines: string[] = [];
  const listening = Promise.withResolvers<string>();
  const reading = (async () => {
    let buffered = "";
    for await (const chunk of child.stderr) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        const url = listeningUrl(line);
        if (url) listening.resolve(url);
      }
    }
    if (buffered) lines.push(buffered);
  })();
  const status = child.status;
  const exited = async () => {
    const result = await status;
    await reading;
    if (ownDataDir) await Deno.remove(ownDataDir, { recursive: true }).catch(() => {});
    return result;
  };
  void status.then(async () => {
    await reading;
    listening.reject(new Error(`edgebox exited before listening:\n${lines.join("\n")}`));
  });
  const url = await listening.promise;
  return { url, child, lines, kill: (signal = "SIGTERM") => child.kill(signal), exited };
}

/** Runs edgebox to completion (for commands that do not serve). */
export async function runEdgebox(
  options: SpawnOptions,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const args = options.args ?? [];
  const command = options.binary
    ? new Deno.Command(options.binary, {
      args,
      stdout: "piped",
      stderr: "piped",
      env: options.env ?? {},
    })
    : new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("../../main.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
      env: options.env ?? {},
    });
  const output = await command.output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function listeningUrl(line: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: string; url?: string };
    return record.msg === "listening" ? record.url : undefined;
  } catch {
    return undefined; // A partial or non-JSON line: not the one we wait for.
  }
}

/** Polls `url` until it answers `status` or the deadline passes; resolves to the JSON body. */
export async function waitForStatus(
  url: string,
  status: number,
  timeoutMs = 20_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      const text = await response.text();
      if (response.status === status) return text ? JSON.parse(text) : undefined;
      last = `${response.status} ${text}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs}ms (last: ${last})`);
}

/** The permission flags `deno task start` runs main.ts with, read from deno.json. */
export async function startTaskPermissions(): Promise<string[]> {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { tasks: { start: string } };
  return denoJson.tasks.start.split(/\s+/).filter((word) => word.startsWith("--allow-"));
}
