/**
 * Unrestricted resource consumption by slow clients (OWASP API4 2023). Deno.serve bounds neither
 * the time to receive a request head nor idle keep-alive time (README: Security, "What a fronting
 * proxy must do"); what edgebox bounds itself is a request body that stops arriving: the request
 * fails with 408 after `server.bodyTimeout` and its handler is released.
 */
import assert from "node:assert/strict";
import { SANITIZED } from "../_helpers.ts";
import { serveEdgebox } from "./_edgebox.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readAnswer(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(8_192);
  let text = "";
  while (!text.includes("\r\n\r\n") || !/\}\s*$/.test(text)) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

for (const framing of ["content-length", "chunked"] as const) {
  Deno.test(
    `a request body that stops arriving (${framing}) fails with 408 after server.bodyTimeout`,
    SANITIZED,
    async () => {
      await using edgebox = await serveEdgebox({ server: { bodyTimeout: "300ms" } });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgebox.port });
      try {
        const framingHeader = framing === "chunked"
          ? "Transfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
          : "Content-Length: 100\r\n\r\n0123456789";
        await conn.write(encoder.encode(
          "PUT /v1/storage/objects/stalled HTTP/1.1\r\nHost: x\r\n" +
            `Authorization: Bearer ${edgebox.adminKey}\r\nContent-Type: text/plain\r\n` +
            framingHeader,
        ));
        // ...and nothing more: the client stalls mid-body.
        const answer = await readAnswer(conn);
        assert.match(answer, /^HTTP\/1\.1 408 /);
        assert.equal(JSON.parse(answer.slice(answer.indexOf("{"))).code, "core.body_timeout");
      } finally {
        conn.close();
      }
      const stored = await edgebox.admin("/v1/storage/objects/stalled");
      await stored.body?.cancel();
      assert.equal(stored.status, 404, "nothing half-written");
    },
  );
}

Deno.test("a body that keeps arriving slowly is not cut off", SANITIZED, async () => {
  await using edgebox = await serveEdgebox({ server: { bodyTimeout: "300ms" } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgebox.port });
  try {
    await conn.write(encoder.encode(
      "PUT /v1/storage/objects/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
        `Authorization: Bearer ${edgebox.adminKey}\r\nContent-Length: 5\r\n\r\n`,
    ));
    for (const byte of "abcde") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await conn.write(encoder.encode(byte));
    }
    const answer = await readAnswer(conn);
    assert.match(answer, /^HTTP\/1\.1 20[01] /);
  } finally {
    conn.close();
  }
  const stored = await edgebox.admin("/v1/storage/objects/slow");
  assert.equal(await stored.text(), "abcde");
});
