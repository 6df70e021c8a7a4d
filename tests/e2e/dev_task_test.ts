/**
 * `deno task dev` and signals: a Ctrl-C (SIGINT to the terminal's process group) drains the
 * server once (no "second signal; exiting now"), and a SIGTERM to the task alone stops the
 * watcher and the server rather than leaving them running.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface DevTask {
  process: ChildProcess;
  /** A path unique to this run, on every command line it starts. */
  marker: string;
  output: () => string;
  exited: Promise<number | null>;
  cleanup: () => Promise<void>;
}

async function startDevTask(): Promise<DevTask> {
  const dir = await Deno.makeTempDir({ prefix: "edgebox-dev-" });
  const marker = `${dir}/edgebox.yaml`;
  await Deno.writeTextFile(
    marker,
    "server:\n  host: 127.0.0.1\n  port: 0\nplugins:\n  echo:\n    backend: memory\n",
  );
  // detached: the task leads a process group of its own, as a shell's foreground job does.
  const process = spawn(Deno.execPath(), ["task", "dev", "--config", marker], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...Deno.env.toObject(), EDGEBOX_DATA_DIR: `${dir}/data`, NO_COLOR: "1" },
  });
  let text = "";
  process.stdout!.on("data", (chunk) => void (text += String(chunk)));
  process.stderr!.on("data", (chunk) => void (text += String(chunk)));
  const exited = new Promise<number | null>((resolve) => process.once("exit", resolve));
  return {
    process,
    marker,
    output: () => text,
    exited,
    cleanup: async () => {
      for (const pid of await pidsOf(marker)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The processes whose command line holds `marker`. */
async function pidsOf(marker: string): Promise<number[]> {
  const { stdout } = await new Deno.Command("pgrep", { args: ["-f", marker] }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).map(Number)
    .filter((pid) => pid !== Deno.pid);
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1_200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const hasPgrep = await new Deno.Command("pgrep", { args: ["--version"] }).output().then(
  (r) => r.success,
  () => false,
);

Deno.test({
  name: "Ctrl-C on deno task dev drains the server once and stops everything",
  ignore: !hasPgrep || Deno.build.os === "windows",
  async fn() {
    const task = await startDevTask();
    try {
      await waitFor(() => /"msg":"ready"/.test(task.output()), "the server to be ready");
      Deno.kill(-task.process.pid!, "SIGINT"); // what a terminal does on Ctrl-C
      await task.exited;
      await waitFor(async () => (await pidsOf(task.marker)).length === 0, "every process to exit");
      const output = task.output();
      assert.match(output, /"msg":"shutting down","reason":"SIGINT"/);
      assert.match(output, /"msg":"stopped"/);
      assert.doesNotMatch(output, /second signal/);
      assert.equal((output.match(/"msg":"shutting down"/g) ?? []).length, 1);
    } finally {
      await task.cleanup();
    }
  },
});

Deno.test({
  name: "SIGTERM to deno task dev alone stops the watcher and drains the server",
  ignore: !hasPgrep || Deno.build.os === "windows",
  async fn() {
    const task = await startDevTask();
    try {
      await waitFor(() => /"msg":"ready"/.test(task.output()), "the server to be ready");
      task.process.kill("SIGTERM"); // the task's process only, not its group
      await task.exited;
      await waitFor(async () => (await pidsOf(task.marker)).length === 0, "every process to exit");
      const output = task.output();
      assert.match(output, /"msg":"shutting down","reason":"SIGTERM"/);
      assert.match(output, /"msg":"stopped"/);
      assert.doesNotMatch(output, /second signal/);
    } finally {
      await task.cleanup();
    }
  },
});
