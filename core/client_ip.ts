/**
 * Who the client is when edgebox sits behind proxies: `server.trustedProxies` lists the CIDRs of
 * the proxies (load balancer, ingress) whose `X-Forwarded-For` is believed. The client is the
 * rightmost address in the chain that is not a trusted proxy; a header from any other peer is
 * ignored, so a client cannot pick its own rate-limit bucket by sending one.
 */
import { z } from "zod";

/** One parsed CIDR: the address as 16 bytes (IPv4 mapped into IPv6) and the prefix length. */
interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

/** The 16 bytes of an IPv4 or IPv6 address (IPv4 as `::ffff:a.b.c.d`), or `undefined`. */
export function parseIp(text: string): Uint8Array | undefined {
  const address = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v4 = parseIpv4(address);
  if (v4) return Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4);
  return parseIpv6(address);
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((part) => /^(0|[1-9]\d{0,2})$/.test(part) ? Number(part) : NaN);
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    for (const [index, part] of half.split(":").entries()) {
      const last = index === half.split(":").length - 1;
      if (last && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) out.push(Number.parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [address, length, extra] = text.trim().split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const bytes = parseIp(address);
  if (!bytes) return undefined;
  const v4 = parseIpv4(address) !== undefined;
  const max = v4 ? 32 : 128;
  if (length !== undefined && !/^\d{1,3}$/.test(length)) return undefined;
  const prefix = length === undefined ? max : Number(length);
  if (prefix > max) return undefined;
  return { bytes, prefix: v4 ? prefix + 96 : prefix };
}

function contains(cidr: Cidr, address: Uint8Array): boolean {
  let bits = cidr.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (address[i]! & mask)) return false;
  }
  return true;
}

/** A CIDR in config (`10.0.0.0/8`, `::1`), checked when the config is loaded. */
export const CidrSchema = z.string().max(64).refine(
  (text) => parseCidr(text) !== undefined,
  "Expected an IP address or CIDR such as 10.0.0.0/8, 192.168.1.10 or fd00::/8",
);

/** Longest `X-Forwarded-For` chain looked at (hops beyond it are not believed). */
const MAX_HOPS = 32;

/**
 * The client address of a request from `peer` carrying `forwardedFor`: the peer itself unless it
 * is a trusted proxy, else the rightmost address of the chain that is not one.
 */
export type ClientIpResolver = (peer: string, forwardedFor: string | null) => string;

/** A resolver for the given `server.trustedProxies`; with none, the peer is always the client. */
export function clientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  const trusted = trustedProxies.map((text) => parseCidr(text)!).filter(Boolean);
  if (trusted.length === 0) return (peer) => peer;
  const isTrusted = (address: string): boolean => {
    const bytes = parseIp(address);
    return bytes !== undefined && trusted.some((cidr) => contains(cidr, bytes));
  };
  return (peer, forwardedFor) => {
    if (forwardedFor === null || !isTrusted(peer)) return peer;
    const hops = forwardedFor.split(",").slice(-MAX_HOPS);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (parseIp(hop) === undefined) break; // garbage: believe no further
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
