/**
 * The message a publish or request sends, read from the HTTP request: its body as bytes, its
 * content type and `Msg-*` headers, its idempotency key, within the payload limit.
 */
import type { Context } from "hono";
import type { AppEnv } from "../../../core/http_env.ts";
import type { MessageHeaders, MessagingDriver, OutgoingMessage } from "../driver.ts";
import { messagingError } from "../errors.ts";
import { payloadSize } from "../payload.ts";
import type { MessagingRoutesOptions } from "./options.ts";

const MSG_HEADER = /^msg-([A-Za-z0-9][A-Za-z0-9-]{0,63})$/i;
const MSG_ID = /^[\x21-\x7e]{1,256}$/;

/** Canonical header name (`trace-id` -> `Trace-Id`), as NATS clients write them. */
function canonical(name: string): string {
  return name.toLowerCase().replace(
    /(^|-)([a-z])/g,
    (_, dash, letter) => dash + letter.toUpperCase(),
  );
}

/** The message headers a request carries: its content type and its `Msg-*` headers. */
function messageHeaders(c: Context<AppEnv>, maxHeaders: number): MessageHeaders {
  const headers: MessageHeaders = {};
  let count = 0;
  for (const [name, value] of c.req.raw.headers) {
    const match = MSG_HEADER.exec(name);
    if (!match) continue;
    if (++count > maxHeaders) {
      throw messagingError("messaging.headers_invalid", {
        detail: `A message may carry at most ${maxHeaders} Msg-* headers`,
        field: `header.${name}`,
        extra: { limit: maxHeaders },
      });
    }
    headers[canonical(match[1]!)] = value;
  }
  const type = c.req.header("content-type");
  if (type) headers["Content-Type"] = type;
  return headers;
}

/** The idempotency key of a publish (`Idempotency-Key`, or NATS's own `Nats-Msg-Id`). */
export function idempotencyKey(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("idempotency-key") !== undefined ? "idempotency-key" : "nats-msg-id";
  const key = c.req.header(header);
  if (key === undefined) return undefined;
  if (!MSG_ID.test(key)) {
    throw messagingError("messaging.headers_invalid", {
      detail: `header.${header}: expected 1-256 visible ASCII characters`,
      field: `header.${header}`,
    });
  }
  return key;
}

/** Reads the message a publish or request sends: body bytes, headers, within the payload limit. */
export function outgoingReader(
  driver: MessagingDriver,
  options: MessagingRoutesOptions,
): (c: Context<AppEnv>) => Promise<OutgoingMessage> {
  const limit = () => Math.min(options.maxPayload, driver.maxPayload());
  return async function outgoing(c) {
    const headers = { ...messageHeaders(c, options.maxHeaders), ...options.traceHeaders?.() };
    const max = limit();
    const declared = Number(c.req.header("content-length") ?? 0);
    const tooLarge = () =>
      messagingError("messaging.payload_too_large", {
        detail: `The message exceeds the payload limit of ${max} bytes`,
        field: "body",
        extra: { limit: max },
      });
    if (declared > max) throw tooLarge();
    const data = new Uint8Array(await c.req.arrayBuffer());
    if (payloadSize(headers, data) > max) throw tooLarge();
    return { data, headers };
  };
}
