/**
 * `deno task dev`: runs `main.ts serve` and restarts it when a source or config file changes.
 *
 * Why not `deno run --watch`: on Ctrl-C its watcher sends the program a SIGTERM right after the
 * terminal's SIGINT, and edgebox takes a second signal as "exit now" (requests are not drained);
 * and a SIGTERM to the task left the watcher running. Here the server runs in a process group of
 * its own, so the terminal's signal reaches only this watcher, which passes exactly one signal on
 * and waits for the drain; and the watcher stops with its parent (`deno task`) if that goes away.
 *
 *     deno task dev [serve options]      e.g. deno task dev --config config/local-stack.yaml
 */
import { type ChildProcess, spawn } from "node:child_process";

/** What is watched, relative to the repository root. */
const WATCHED = ["main.ts", "mod.ts", "core", "plugins", "config", "deno.json"];
/** Changes closer together than this restart once. */
const DEBOUNCE_MS = 200;
/** How often the watcher checks that `deno task` (its parent) is still there. */
const PARENT_POLL_MS = 500;

const root = new URL("../", import.meta.url);
const serveArgs = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  "main.ts",
  "serve",
  ...Deno.args,
];

let child: ChildProcess | undefined;
let exited: Promise<number> = Promise.resolve(0);
let stopping = false;

function log(message: string): void {
  console.error(`dev: ${message}`);
}

function start(): void {
  // detached: a process group of its own, so a Ctrl-C in the terminal does not reach it directly.
  const process = spawn(Deno.execPath(), serveArgs, {
    cwd: root,
    stdio: "inherit",
    detached: true,
  });
  child = process;
  exited = new Promise((resolve) => {
    process.once("exit", (code, signal) => {
      if (child === process) child = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
    process.once("error", (error) => {
      log(`cannot start: ${error.message}`);
      resolve(1);
    });
  });
}

/** Sends the server one signal and waits for it to drain and exit. */
async function stopChild(signal: "SIGINT" | "SIGTERM"): Promise<number> {
  const running = child;
  if (running && running.exitCode === null && running.signalCode === null) running.kill(signal);
  return await exited;
}

async function shutdown(signal: "SIGINT" | "SIGTERM"): Promise<void> {
  if (stopping) return; // the terminal and `deno task` may both deliver it: pass one on
  stopping = true;
  watcher.close();
  const code = await stopChild(signal);
  Deno.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void shutdown(signal));
}

const parent = Deno.ppid;
const parentWatch = setInterval(() => {
  // Re-parented: `deno task` was killed without passing its signal on.
  if (Deno.ppid !== parent) void shutdown("SIGTERM");
}, PARENT_POLL_MS);
Deno.unrefTimer(parentWatch);

const paths = WATCHED.map((path) => new URL(path, root).pathname);
const watcher = Deno.watchFs(paths, { recursive: true });
start();

let timer: ReturnType<typeof setTimeout> | undefined;
for await (const event of watcher) {
  if (stopping) break;
  if (!event.paths.some((path) => /\.(ts|ya?ml|json)$/.test(path))) continue;
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (stopping) return;
    log(`restarting: ${event.paths[0]!.slice(new URL(root).pathname.length)} changed`);
    await stopChild("SIGTERM");
    if (!stopping) start();
  }, DEBOUNCE_MS);
}
