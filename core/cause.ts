/**
 * What went wrong, in words an operator acts on: a network failure found anywhere in an error's
 * `cause` chain (or an `AggregateError`'s errors) is told as `connection refused to host:port`
 * rather than as a client library's internals (`Stream isn't writeable and enableOfflineQueue
 * options is false`, `fetch failed`). Used for `/ready` details, 503 details and CLI messages.
 */

/** System error codes and what they mean for whoever reads the detail. */
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EPIPE: "connection closed",
};

/** Deno's error classes and messages for the same failures (fetch, Deno.connect). */
const NETWORK_TEXT: [RegExp, string][] = [
  [/connection refused/i, "connection refused"],
  [/connection reset/i, "connection reset"],
  [/timed out/i, "connection timed out"],
  [/(failed to lookup address|name or service not known|dns error)/i, "host not found"],
  [/(no route to host|host is unreachable)/i, "host unreachable"],
];

interface SystemError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  errors?: unknown;
  cause?: unknown;
  message?: unknown;
  name?: unknown;
}

/** The network failure in `error`'s chain, e.g. `connection refused to 127.0.0.1:6379`. */
export function networkCause(error: unknown, depth = 0): string | undefined {
  if (depth > 8 || typeof error !== "object" || error === null) return undefined;
  const e = error as SystemError;
  if (typeof e.code === "string" && e.code in NETWORK_CODES) {
    const host = typeof e.address === "string"
      ? e.address
      : typeof e.hostname === "string"
      ? e.hostname
      : undefined;
    const where = host === undefined
      ? ""
      : ` ${e.code === "ENOTFOUND" || e.code === "EAI_AGAIN" ? "for" : "to"} ${
        typeof e.port === "number" ? `${host}:${e.port}` : host
      }`;
    return `${NETWORK_CODES[e.code]}${where}`;
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = networkCause(inner, depth + 1);
      if (found) return found;
    }
  }
  const nested = networkCause(e.cause, depth + 1);
  if (nested) return nested;
  if (typeof e.name === "string" && e.name === "ConnectionRefused") return "connection refused";
  return undefined;
}

/**
 * A one-line account of `error`: its network cause when it has one (`connection refused to
 * 127.0.0.1:6379`), else its message, with a fetch failure's underlying reason.
 */
export function describeCause(error: unknown): string {
  const network = networkCause(error);
  if (network) return network;
  if (!(error instanceof Error)) return String(error);
  const texts: string[] = [];
  for (let e: unknown = error, i = 0; e instanceof Error && i < 8; e = e.cause, i++) {
    texts.push(e.message);
  }
  const all = texts.join(": ");
  for (const [pattern, meaning] of NETWORK_TEXT) {
    if (pattern.test(all)) return meaning;
  }
  return error.message || error.name;
}
