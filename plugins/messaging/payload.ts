/** Sizes and text forms of message payloads, the same for every backend. */
import { Buffer } from "node:buffer";
import type { MessageHeaders } from "./driver.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Bytes headers take on the wire, as NATS counts them against max_payload: a `NATS/1.0` line,
 * `Name: value` lines and a blank line.
 */
export function headersSize(headers: MessageHeaders | undefined): number {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return 0;
  let size = 12;
  for (const [name, value] of entries) size += name.length + value.length + 4;
  return size;
}

/** What counts against the payload limit: data plus headers. */
export function payloadSize(headers: MessageHeaders | undefined, data: Uint8Array): number {
  return headersSize(headers) + data.length;
}

/** What a stored message counts against a stream's byte limit (NATS's memory-store formula). */
export function messageSize(subject: string, headers: MessageHeaders, data: Uint8Array): number {
  return subject.length + payloadSize(headers, data) + 16;
}

/** A payload as JSON carries it: the text when it is valid UTF-8, base64 otherwise. */
export interface EncodedPayload {
  data: string;
  encoding: "utf8" | "base64";
}

/** Encodes a payload for a JSON body or an SSE event. */
export function encodePayload(data: Uint8Array): EncodedPayload {
  try {
    return { data: strictUtf8.decode(data), encoding: "utf8" };
  } catch {
    return {
      data: Buffer.from(data.buffer, data.byteOffset, data.length).toString("base64"),
      encoding: "base64",
    };
  }
}
