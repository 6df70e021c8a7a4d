/**
 * API-key authentication with scopes. Keys are compared as SHA-256 digests in constant time,
 * against every configured key, so neither the key nor its position leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AuthConfig } from "./config_schema.ts";
import { coreError } from "./errors.ts";
import type { Principal } from "./http_env.ts";

/** The principal of every request when auth is off. */
export const anonymous: Principal = Object.freeze({
  name: "anonymous",
  scopes: Object.freeze(["*"]),
});

/** Whether a host only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether requests must carry a key under this config. */
export function authEnabled(auth: AuthConfig): boolean {
  return auth.mode === "apiKey" || (auth.mode === undefined && auth.keys.length > 0);
}

/**
 * Why serving on `host` with this auth config is refused, if it is: an open API beyond
 * loopback must be asked for explicitly (`auth: { mode: none }`).
 */
export function authRefusal(auth: AuthConfig, host: string): string | undefined {
  if (auth.mode === "apiKey" && auth.keys.length === 0) {
    return 'Cannot enable auth mode "apiKey" without keys: add auth.keys or set auth.mode to none';
  }
  if (!authEnabled(auth) && auth.mode !== "none" && !isLoopback(host)) {
    return `Refusing to listen on ${host} without API keys: add auth.keys, or set auth.mode: none to serve an open API`;
  }
  return undefined;
}

/** Whether `scopes` grant `required` (`*` grants all; `cache:*` grants `cache:read`). */
export function hasScope(scopes: readonly string[], required: string): boolean {
  if (scopes.includes("*") || scopes.includes(required)) return true;
  const colon = required.indexOf(":");
  return colon > 0 && scopes.includes(required.slice(0, colon) + ":*");
}

/** Returns the scope a request needs, or `undefined` for public routes. */
export type ScopeRule = (method: string, path: string) => string | undefined;

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Decides who a request comes from; throws 401/403 problems. */
export type Authenticator = (
  method: string,
  path: string,
  authorization: string | null,
) => Principal;

/** Builds the authenticator for an auth config: `Authorization: Bearer <key>` plus scopes. */
export function apiKeyAuthenticator(auth: AuthConfig, scopeFor: ScopeRule): Authenticator {
  if (!authEnabled(auth)) return () => anonymous;
  const keys = auth.keys.map((k) => ({
    digest: digest(k.key),
    principal: { name: k.name, scopes: k.scopes },
  }));
  return function authenticate(method, path, authorization) {
    const required = scopeFor(method, path);
    if (required === undefined) return anonymous;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) {
      throw coreError("core.unauthorized", {
        detail: "Send an API key as Authorization: Bearer <key>",
        field: "header.authorization",
        headers: { "WWW-Authenticate": 'Bearer realm="edgebox"' },
      });
    }
    const offered = digest(match[1]!);
    let principal: Principal | undefined;
    for (const key of keys) {
      // No early exit: every key is compared so timing says nothing about which one matched.
      if (timingSafeEqual(offered, key.digest) && principal === undefined) {
        principal = key.principal;
      }
    }
    if (!principal) {
      throw coreError("core.unauthorized", {
        detail: "The API key is not valid",
        field: "header.authorization",
        headers: { "WWW-Authenticate": 'Bearer realm="edgebox", error="invalid_token"' },
      });
    }
    if (!hasScope(principal.scopes, required)) {
      throw coreError("core.forbidden", {
        detail: `API key "${principal.name}" lacks scope "${required}"`,
        extra: { requiredScope: required },
      });
    }
    return principal;
  };
}
