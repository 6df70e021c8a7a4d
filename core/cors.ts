/**
 * `server.cors`: which browser origins may call edgebox. A preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) is answered here, before auth and routing, so it never reaches
 * a plugin route; every other response to an allowed origin gets `Access-Control-Allow-Origin`
 * (the origin itself, never an unlisted one) and `Vary: Origin`. Left out, edgebox sends no CORS
 * headers at all and browsers keep cross-origin pages out.
 */
import { z } from "zod";
import { duration } from "./units.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** `https://app.example.com`, `http://localhost:5173`: scheme, host and optional port only. */
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^\*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** `server.cors:` */
export const CorsConfig = z.strictObject({
  /** Origins allowed to call edgebox from a browser, exactly as browsers send them; `*` = any. */
  origins: z.array(
    z.string().regex(ORIGIN, "Expected an origin such as https://app.example.com, or *"),
  ).min(1).max(100),
  /** Methods a cross-origin request may use. */
  methods: z.array(z.enum(METHODS)).min(1).default([
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
  ]),
  /** Request headers a cross-origin request may send. */
  headers: z.array(z.string().regex(HEADER_NAME, "Expected a header name")).max(100).default([
    "authorization",
    "content-type",
    "x-request-id",
    "if-match",
    "if-none-match",
  ]),
  /** Response headers a page may read besides the CORS-safelisted ones. */
  exposeHeaders: z.array(z.string().regex(HEADER_NAME, "Expected a header name")).max(100)
    .default([
      "x-request-id",
      "retry-after",
      "etag",
      "location",
      "ratelimit-limit",
      "ratelimit-remaining",
      "ratelimit-reset",
    ]),
  /** Whether a page may send cookies or HTTP auth (never together with origin `*`). */
  credentials: z.boolean().default(false),
  /** How long a browser may cache a preflight's answer. */
  maxAge: duration().default(600_000),
}).refine((cors) => !(cors.credentials && cors.origins.includes("*")), {
  message: "credentials: true needs the allowed origins listed; it cannot be used with *",
  path: ["credentials"],
});

/** Validated `server.cors:` section. */
export type CorsConfig = z.output<typeof CorsConfig>;

/** The CORS layer of one app. */
export interface Cors {
  /** The answer to a preflight request, or `undefined` when `request` is not one. */
  preflight(request: Request): Response | undefined;
  /** `response` with the CORS headers for `request`'s origin (unchanged without one). */
  decorate(response: Response, request: Request): Response;
}

/** Builds the CORS layer for a config. */
export function createCors(config: CorsConfig): Cors {
  const any = config.origins.includes("*");
  const origins = new Set(config.origins);
  const methods = config.methods.join(", ");
  const allowedMethods = new Set<string>(config.methods);
  const headers = new Set(config.headers.map((name) => name.toLowerCase()));
  const expose = config.exposeHeaders.join(", ");
  const maxAge = String(Math.floor(config.maxAge / 1000));
  const allowed = (origin: string | null): origin is string =>
    origin !== null && (origins.has(origin) || (any && origin !== "null"));
  const originHeaders = (origin: string): [string, string][] => {
    const out: [string, string][] = [[
      "access-control-allow-origin",
      any && !config.credentials ? "*" : origin,
    ]];
    if (config.credentials) out.push(["access-control-allow-credentials", "true"]);
    return out;
  };

  /** Preflight answers: complete as they are (a refused one must stay without CORS headers). */
  const answered = new WeakSet<Response>();
  return {
    preflight(request) {
      if (request.method !== "OPTIONS") return undefined;
      const wanted = request.headers.get("access-control-request-method");
      const origin = request.headers.get("origin");
      if (wanted === null || origin === null) return undefined;
      const response = new Response(null, { status: 204, headers: { vary: "Origin" } });
      answered.add(response);
      const asked = (request.headers.get("access-control-request-headers") ?? "")
        .split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
      // Refused preflights get no CORS headers: the browser then blocks the request itself.
      if (!allowed(origin) || !allowedMethods.has(wanted)) return response;
      if (asked.some((name) => !headers.has(name))) return response;
      for (const [name, value] of originHeaders(origin)) response.headers.set(name, value);
      response.headers.set("access-control-allow-methods", methods);
      if (asked.length > 0) response.headers.set("access-control-allow-headers", asked.join(", "));
      response.headers.set("access-control-max-age", maxAge);
      return response;
    },
    decorate(response, request) {
      const origin = request.headers.get("origin");
      if (origin === null || answered.has(response)) return response;
      const set: [string, string][] = [["vary", "Origin"]];
      if (allowed(origin)) {
        set.push(...originHeaders(origin));
        if (expose) set.push(["access-control-expose-headers", expose]);
      }
      let target = response;
      for (const [name, value] of set) {
        try {
          if (name === "vary") target.headers.append(name, value);
          else target.headers.set(name, value);
        } catch {
          target = new Response(target.body, target); // immutable headers: copy once
          if (name === "vary") target.headers.append(name, value);
          else target.headers.set(name, value);
        }
      }
      return target;
    },
  };
}
