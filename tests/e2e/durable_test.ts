/**
 * The embedded backends keep what they acknowledged: a real edgebox on the `sqlite` backends
 * under a write loop (cache PUT, publish, graph node PUT) is killed with SIGKILL at a random
 * moment; after a restart on the same data directory every write that had a 2xx is there. Also:
 * SIGTERM and restart keep everything, a second edgebox on the same directory refuses to start,
 * and a backup taken while serving restores into a wiped directory.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { tempDir } from "../_helpers.ts";
import { runEdgebox, spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

function durableConfig(dataDir: string): string {
  return stringify({
    server: { host: "127.0.0.1", port: 0, dataDir },
    auth: { mode: "none" },
    plugins: {
      cache: { backend: "sqlite" },
      graph: { backend: "sqlite", labels: ["Item"], relationships: ["NEXT"] },
      messaging: {
        backend: "sqlite",
        streams: [{ name: "events", subjects: ["events.>"] }],
        // The check reads every message without acking: room for all of them in flight.
        consumers: [{ stream: "events", name: "audit", ackWait: "30s", maxAckPending: 1_000_000 }],
      },
    },
  });
}

/** A started edgebox on `dir` (config in `dir/edgebox.yaml`), ready. */
async function start(dir: string) {
  const config = `${dir}/edgebox.yaml`;
  const edgebox = await spawnEdgebox({
    args: ["serve", "--config", config],
    env: { EDGEBOX_DATA_DIR: `${dir}/unused` },
  });
  await waitForStatus(`${edgebox.url}/ready`, 200);
  return edgebox;
}

interface Acknowledged {
  keys: string[];
  nodes: string[];
  seqs: number[];
}

/** One client's loop: each write is recorded once it answered 2xx; stops when a write fails. */
async function writeLoop(url: string, client: number, acked: Acknowledged): Promise<void> {
  for (let i = 0;; i++) {
    const id = `${client}-${i}`;
    try {
      const put = await fetch(`${url}/v1/cache/keys/k-${id}`, { method: "PUT", body: `v-${id}` });
      await put.body?.cancel();
      if (!put.ok) return;
      acked.keys.push(id);
      const node = await fetch(`${url}/v1/graph/nodes/Item/${id}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ n: i }),
      });
      await node.body?.cancel();
      if (!node.ok) return;
      acked.nodes.push(id);
      const published = await fetch(`${url}/v1/messaging/publish/events.${client}`, {
        method: "POST",
        body: `m-${id}`,
      });
      if (!published.ok) return;
      acked.seqs.push((await published.json()).seq);
    } catch {
      return; // the process is gone
    }
  }
}

/** Every message the `audit` consumer delivers, by sequence number. */
async function allMessages(url: string): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (;;) {
    const response = await fetch(
      `${url}/v1/messaging/consumers/events/audit/fetch?batch=100&wait=200ms`,
      { method: "POST" },
    );
    assert.equal(response.status, 200);
    const { messages } = await response.json() as { messages: { seq: number; data: string }[] };
    if (messages.length === 0) return found;
    for (const message of messages) found.set(message.seq, message.data);
  }
}

async function missing(url: string, acked: Acknowledged) {
  const lost = { keys: 0, nodes: 0, messages: 0 };
  for (const id of acked.keys) {
    const response = await fetch(`${url}/v1/cache/keys/k-${id}`);
    const body = await response.text();
    if (response.status !== 200 || body !== `v-${id}`) lost.keys++;
  }
  for (const id of acked.nodes) {
    const response = await fetch(`${url}/v1/graph/nodes/Item/${id}`);
    await response.body?.cancel();
    if (response.status !== 200) lost.nodes++;
  }
  const messages = await allMessages(url);
  for (const seq of acked.seqs) if (!messages.has(seq)) lost.messages++;
  return { lost, messages };
}

Deno.test("everything acknowledged survives SIGKILL at a random moment", async () => {
  using temp = tempDir("edgebox-crash-");
  Deno.writeTextFileSync(`${temp.path}/edgebox.yaml`, durableConfig(`${temp.path}/data`));
  const edgebox = await start(temp.path);
  const acked: Acknowledged = { keys: [], nodes: [], seqs: [] };
  const killAfter = 400 + Math.floor(Math.random() * 1_200);

  const loops = Array.from({ length: 8 }, (_, client) => writeLoop(edgebox.url, client, acked));
  await new Promise((resolve) => setTimeout(resolve, killAfter));
  edgebox.kill("SIGKILL");
  await Promise.all(loops);
  await edgebox.exited();

  const restarted = await start(temp.path);
  try {
    const { lost, messages } = await missing(restarted.url, acked);
    console.log(
      `killed after ${killAfter}ms: acknowledged ${acked.keys.length} cache PUTs, ` +
        `${acked.nodes.length} node PUTs, ${acked.seqs.length} publishes; found ` +
        `${acked.keys.length - lost.keys}, ${acked.nodes.length - lost.nodes}, ` +
        `${acked.seqs.length - lost.messages} (lost ${JSON.stringify(lost)})`,
    );
    assert.ok(acked.keys.length > 0 && acked.seqs.length > 0, "the loop wrote before the kill");
    assert.deepEqual(lost, { keys: 0, nodes: 0, messages: 0 });
    // Sequence numbers never repeat: a publish after the restart continues after the last one.
    const next = await fetch(`${restarted.url}/v1/messaging/publish/events.after`, {
      method: "POST",
      body: "after",
    });
    const { seq } = await next.json();
    assert.ok(seq > Math.max(0, ...messages.keys()), `seq ${seq} follows every stored one`);
  } finally {
    restarted.kill();
    await restarted.exited();
  }
});

Deno.test("a second edgebox on the same data directory refuses to start, saying why", async () => {
  using temp = tempDir("edgebox-lock-");
  Deno.writeTextFileSync(`${temp.path}/edgebox.yaml`, durableConfig(`${temp.path}/data`));
  const first = await start(temp.path);
  try {
    const second = await runEdgebox({
      args: ["serve", "--port", "0", "--config", `${temp.path}/edgebox.yaml`],
    });

    assert.equal(second.code, 1);
    assert.match(second.stderr, /data directory .*\/data is in use by another edgebox/);
  } finally {
    first.kill();
    await first.exited();
  }
});

Deno.test("a backup taken while serving restores into a wiped data directory", async () => {
  using temp = tempDir("edgebox-backup-");
  const config = `${temp.path}/edgebox.yaml`;
  Deno.writeTextFileSync(config, durableConfig(`${temp.path}/data`));
  const edgebox = await start(temp.path);
  let seq: number;
  try {
    await fetch(`${edgebox.url}/v1/cache/keys/kept`, { method: "PUT", body: "kept value" })
      .then((r) => r.body?.cancel());
    await fetch(`${edgebox.url}/v1/graph/nodes/Item/kept`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kept: true }),
    }).then((r) => r.body?.cancel());
    seq = (await (await fetch(`${edgebox.url}/v1/messaging/publish/events.kept`, {
      method: "POST",
      body: "kept message",
    })).json()).seq;

    const backup = await runEdgebox({
      args: ["backup", "--config", config, "--out", `${temp.path}/backup`],
    });
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /backed up 3 instance\(s\)/);
  } finally {
    edgebox.kill();
    await edgebox.exited();
  }

  Deno.removeSync(`${temp.path}/data`, { recursive: true });
  const restore = await runEdgebox({
    args: ["restore", "--config", config, "--from", `${temp.path}/backup`],
  });
  assert.equal(restore.code, 0, restore.stderr);

  const restored = await start(temp.path);
  try {
    assert.equal(await (await fetch(`${restored.url}/v1/cache/keys/kept`)).text(), "kept value");
    const node = await (await fetch(`${restored.url}/v1/graph/nodes/Item/kept`)).json();
    assert.equal(node.properties.kept, true);
    const messages = await allMessages(restored.url);
    assert.ok(messages.has(seq), "the message is back");
  } finally {
    restored.kill();
    await restored.exited();
  }
});

Deno.test("restore refuses while an edgebox holds the data directory", async () => {
  using temp = tempDir("edgebox-restore-");
  const config = `${temp.path}/edgebox.yaml`;
  Deno.writeTextFileSync(config, durableConfig(`${temp.path}/data`));
  const edgebox = await start(temp.path);
  try {
    await fetch(`${edgebox.url}/v1/cache/keys/a`, { method: "PUT", body: "a" })
      .then((r) => r.body?.cancel());
    const backup = await runEdgebox({
      args: ["backup", "--config", config, "--out", `${temp.path}/backup`],
    });
    assert.equal(backup.code, 0, backup.stderr);

    const restore = await runEdgebox({
      args: ["restore", "--config", config, "--from", `${temp.path}/backup`],
    });

    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /is in use by another edgebox/);
  } finally {
    edgebox.kill();
    await edgebox.exited();
  }
});
