/**
 * API rate limiting for the core: a budget per client (API key or IP) per route prefix, counted
 * atomically by a plugin that offers `rateLimit` (the cache plugin, on Redis or in memory).
 * Answers 429 problem+json with `Retry-After`, and `RateLimit-*` headers on every limited route.
 */
import { type Capability, defineCapability } from "./plugin.ts";
import type { RateLimitConfig } from "./config_schema.ts";
import { coreError } from "./errors.ts";
import type { Principal } from "./http_env.ts";
import type { Logger } from "./log.ts";

/** The verdict of one counted request. */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** What a store must offer (the cache plugin's exports do). */
export interface RateLimitStore {
  rateLimit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

/** The capability of counting rate limits, which a plugin (the cache) provides to the core. */
export const RATE_LIMIT_STORE: Capability<RateLimitStore> = defineCapability<RateLimitStore>(
  "edgebox.rateLimitStore",
);

/**
 * Paths never limited: probes must answer even when a client is over its budget, and an admin
 * must be able to reload a config whose limits lock everyone out (the route needs `admin`).
 */
const EXEMPT = new Set(["/health", "/ready", "/admin/reload"]);

/** Counts a request; resolves to the headers to add, or throws a 429 problem. */
export type RateLimiter = (
  path: string,
  principal: Principal,
  clientIp: string,
) => Promise<Record<string, string>> | undefined;

/** Builds the limiter for a config; `undefined` results mean "not limited". */
export function createRateLimiter(
  config: RateLimitConfig,
  store: () => RateLimitStore | undefined,
  log: Logger,
): RateLimiter {
  const rules = [...config.rules].sort((a, b) => b.prefix.length - a.prefix.length);
  return (path, principal, clientIp) => {
    if (EXEMPT.has(path)) return undefined;
    const rule = rules.find((r) => path.startsWith(r.prefix));
    if (!rule) return undefined;
    const counter = store();
    if (!counter) return undefined;
    const who = config.by === "apiKey" && principal.name !== "anonymous"
      ? `key:${principal.name}`
      : `ip:${clientIp}`;
    return counter.rateLimit(`ratelimit:${rule.prefix}:${who}`, rule.limit, rule.window).then(
      (result) => {
        const reset = Math.max(1, Math.ceil(result.resetMs / 1000));
        const headers = {
          "RateLimit-Limit": String(result.limit),
          "RateLimit-Remaining": String(Math.max(0, result.remaining)),
          "RateLimit-Reset": String(reset),
          "RateLimit-Policy": `${rule.limit};w=${Math.round(rule.window / 1000)}`,
        };
        if (result.allowed) return headers;
        throw coreError("core.rate_limited", {
          detail: `Rate limit of ${rule.limit} requests per ${rule.window / 1000}s exceeded`,
          headers: { ...headers, "Retry-After": String(reset) },
          extra: { limit: rule.limit, windowSeconds: rule.window / 1000 },
        });
      },
      (error) => {
        // Fail open: a cache outage must not take the whole API down with it.
        log.warn("rate limit store unavailable; request allowed", { error: String(error) });
        return {};
      },
    );
  };
}
