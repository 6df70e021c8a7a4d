/**
 * Draining for load balancers, black-box: after the first SIGTERM, `/ready` answers 503 for
 * `server.drainDelay` on connections already open and on new ones, every other route still
 * answers, and only then does the listener close and the process exit 0.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers.ts";
import { spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One HTTP/1.1 connection that stays open between requests (keep-alive). */
class KeptAlive implements AsyncDisposable {
  #buffered = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn, readonly port: number) {}

  static async open(url: string): Promise<KeptAlive> {
    const port = Number(new URL(url).port);
    return new KeptAlive(await Deno.connect({ hostname: "127.0.0.1", port }), port);
  }

  /** Sends `GET path` on this connection; resolves to the status and body. */
  async get(path: string): Promise<{ status: number; body: string; close: boolean }> {
    await this.conn.write(
      encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n\r\n`),
    );
    let headEnd = -1;
    while ((headEnd = indexOfHeadEnd(this.#buffered)) < 0) await this.#read();
    const head = decoder.decode(this.#buffered.subarray(0, headEnd));
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    while (this.#buffered.length < headEnd + 4 + length) await this.#read();
    const body = decoder.decode(this.#buffered.subarray(headEnd + 4, headEnd + 4 + length));
    this.#buffered = this.#buffered.slice(headEnd + 4 + length);
    return { status, body, close: /\r\nconnection:\s*close/i.test(head) };
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(16_384);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("The server closed the kept-alive connection");
    const joined = new Uint8Array(this.#buffered.length + n);
    joined.set(this.#buffered);
    joined.set(chunk.subarray(0, n), this.#buffered.length);
    this.#buffered = joined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed by the server
    }
    return Promise.resolve();
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

Deno.test("after SIGTERM, /ready is 503 for drainDelay on open and new connections while other routes answer, then exit 0", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    "server: { drainDelay: 3s, shutdownTimeout: 2s }\nplugins: { echo: { backend: memory } }\n",
  );
  const edgebox = await spawnEdgebox({ args: ["serve", "--config", file, "--port", "0"] });
  try {
    await waitForStatus(`${edgebox.url}/ready`, 200);
    await using kept = await KeptAlive.open(edgebox.url);
    assert.equal((await kept.get("/ready")).status, 200);

    edgebox.kill("SIGTERM");
    // Until the signal is handled /ready may still say 200 on this connection: wait for the 503.
    await waitFor(async () => (await kept.get("/ready")).status === 503, "/ready to turn 503");
    const drained = await kept.get("/ready");
    assert.equal(drained.status, 503);
    assert.equal(JSON.parse(drained.body).status, "not_ready");
    assert.equal((await kept.get("/health")).status, 200, "liveness still answers");
    assert.equal((await kept.get("/v1/echo")).status, 200, "plugin routes still answer");

    const fresh = await fetch(`${edgebox.url}/ready`);
    assert.equal(fresh.status, 503, "a new connection is accepted and told to go away");
    await fresh.body?.cancel();
    const route = await fetch(`${edgebox.url}/v1/echo`);
    assert.equal(route.status, 200, "a new connection is still served");
    await route.body?.cancel();

    const status = await edgebox.exited();
    assert.equal(status.code, 0);
    const messages = edgebox.lines.filter((line) => line.startsWith("{")).map((line) =>
      JSON.parse(line).msg
    );
    const order = ["shutting down", "drain delay over; closing the listener", "stopped"];
    assert.deepEqual(messages.filter((m) => order.includes(m)), order);
  } finally {
    try {
      edgebox.kill("SIGKILL");
    } catch {
      // it exited, as it should
    }
    await edgebox.exited();
    await Deno.remove(file);
  }
});
