/**
 * A raw HTTP/1.1 client for the adversarial suite. `fetch` and `new Request` normalise a URL
 * (they resolve `..`, turn `\` into `/`, upper-case methods) before a server ever sees it, so
 * hostile request targets, methods and body framings are written to the socket byte for byte.
 */

/** One answer read off the socket; `status` 0 when the server closed without answering. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** What to send: the request line's parts, headers and a body framed as asked. */
export interface RawRequest {
  method: string;
  /** The request target exactly as written on the request line. */
  target: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** `length`: Content-Length; `chunked`: Transfer-Encoding: chunked; `none`: no framing header. */
  framing?: "length" | "chunked" | "none";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends one request on a fresh connection (`Connection: close`) and reads the answer. */
export async function rawRequest(
  port: number,
  request: RawRequest,
  timeoutMs = 5_000,
): Promise<RawResponse> {
  const body = typeof request.body === "string" ? encoder.encode(request.body) : request.body;
  const framing = request.framing ?? (body ? "length" : "none");
  let head = `${request.method} ${request.target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    "Connection: close\r\n";
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    head += `${name}: ${value}\r\n`;
  }
  if (body && framing === "length") head += `Content-Length: ${body.byteLength}\r\n`;
  if (framing === "chunked") head += "Transfer-Encoding: chunked\r\n";
  head += "\r\n";
  const parts: Uint8Array[] = [encoder.encode(head)];
  if (body && framing === "chunked") {
    if (body.byteLength > 0) {
      parts.push(
        encoder.encode(`${body.byteLength.toString(16)}\r\n`),
        body,
        encoder.encode("\r\n"),
      );
    }
    parts.push(encoder.encode("0\r\n\r\n"));
  } else if (body && framing === "length") parts.push(body);
  else if (framing === "chunked") parts.push(encoder.encode("0\r\n\r\n"));

  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    for (const part of parts) await writeAll(conn, part);
    const received = await readAll(conn);
    return parseResponse(received);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timeout already */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(16_384);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } catch { /* reset or closed by the timeout: parse what arrived */ }
  const total = new Uint8Array(chunks.reduce((sum, c) => sum + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    total.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return total;
}

function parseResponse(bytes: Uint8Array): RawResponse {
  const text = decoder.decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return { status: 0, headers: new Headers(), body: text };
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = text.slice(end + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") body = unchunk(body);
  return { status, headers, body };
}

function unchunk(text: string): string {
  let out = "";
  let rest = text;
  while (rest.length > 0) {
    const lineEnd = rest.indexOf("\r\n");
    if (lineEnd === -1) break;
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!size) break;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
  return out;
}
