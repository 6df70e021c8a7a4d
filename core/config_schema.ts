/**
 * The zod schemas of edgebox's own config sections. Plugin blocks are validated against the
 * schema of their plugin type (see `core/config.ts`), after the fields every block shares.
 */
import { z } from "zod";
import { CidrSchema } from "./client_ip.ts";
import { CorsConfig } from "./cors.ts";
import { duration, size } from "./units.ts";

/** Instance names become URL segments and log fields, so they are kept plain. */
export const INSTANCE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** One rate-limit rule: requests whose path starts with `prefix` share a budget per client. */
export const RateLimitRule = z.strictObject({
  prefix: z.string().startsWith("/", "A route prefix starts with /"),
  limit: z.number().int().min(1).max(1_000_000_000),
  window: duration().pipe(z.number().min(1_000, "The window is at least 1s")),
});

/**
 * `server.rateLimit:` — API rate limiting, counted in a cache plugin instance (so limits hold
 * across edgebox processes when the cache is Redis).
 */
export const RateLimitConfig = z.strictObject({
  /** Who a budget belongs to: the API key's name (the client IP when anonymous), or the IP. */
  by: z.enum(["apiKey", "ip"]).default("apiKey"),
  /** The instance that counts; default: the first enabled instance that offers `rateLimit`. */
  store: z.string().optional(),
  /** Longest matching prefix wins; paths no rule matches are not limited. */
  rules: z.array(RateLimitRule).min(1).max(100),
});

/** `server:` — where and how edgebox listens. */
export const ServerConfig = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65_535).default(8080),
  /** How long in-flight requests may run after a stop signal. */
  shutdownTimeout: duration().default(10_000),
  /**
   * After the first stop signal, how long `/ready` answers 503 while every other route is still
   * served (on open and new connections), so load balancers take this replica out of rotation
   * before the listener closes. 0 (the default) closes the listener at once.
   */
  drainDelay: duration().default(0),
  /** Largest request body accepted anywhere (413 above it). */
  bodyLimit: size().default(1_048_576),
  /**
   * How long a request body may make no progress before the request fails with 408 (a client
   * that stops sending mid-body would otherwise hold its handler for ever). A body of known
   * length that a route reads whole must arrive within this time.
   */
  bodyTimeout: duration().pipe(z.number().min(100, "The body timeout is at least 100ms"))
    .default(30_000),
  /** Deepest nesting of arrays and objects accepted in a JSON request body. */
  maxJsonDepth: z.number().int().min(1).max(1_000).default(64),
  rateLimit: RateLimitConfig.optional(),
  /**
   * Proxies (CIDRs or addresses) whose `X-Forwarded-For` is believed: the client is then the
   * rightmost address in it that is not one of them (for `rateLimit.by: ip` and the access log).
   * Empty (the default): the header is ignored and the client is the connection's peer.
   */
  trustedProxies: z.array(CidrSchema).max(100).default([]),
  /** Browser origins allowed to call edgebox (CORS); left out, no CORS headers are sent. */
  cors: CorsConfig.optional(),
  /**
   * Where embedded backends keep their data (one SQLite file per instance, locked against a
   * second edgebox). Left out: `EDGEBOX_DATA_DIR`, else `./data`; relative to the working
   * directory.
   */
  dataDir: z.string().min(1).optional(),
});

/** A scope: `*`, `admin`, `<instance>:*`, `<instance>:read` or `<instance>:write`. */
export const Scope = z.string().regex(
  /^(\*|admin|[a-z][a-z0-9_-]{0,62}:(read|write|\*))$/,
  'Expected a scope such as "*", "admin", "cache:read", "cache:write" or "cache:*"',
);

/** One API key. */
export const ApiKey = z.strictObject({
  /** Shown in logs instead of the key. */
  name: z.string().min(1).max(64),
  /** The secret; usually `${SOME_ENV_VAR}`. At least 16 characters. */
  key: z.string().min(16, "API keys must be at least 16 characters"),
  scopes: z.array(Scope).min(1).default(["*"]),
});

/** `auth:` — API keys, or an explicit opt-out. */
export const AuthConfig = z.strictObject({
  /**
   * `apiKey` requires a key on every request except health probes and docs; `none` turns auth
   * off. Left out, it is `apiKey` when keys are configured and off on loopback otherwise.
   */
  mode: z.enum(["apiKey", "none"]).optional(),
  keys: z.array(ApiKey).max(1_000).default([]),
});

/** `log:` — level, format, and the paths the access log leaves out. */
export const LogConfig = z.strictObject({
  level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Left out: pretty on a terminal, JSON lines otherwise. */
  format: z.enum(["json", "pretty"]).optional(),
  /**
   * Exact request paths that get no access log line. By default the probes, which load
   * balancers and kubelets call every few seconds: their lines would drown the ones that matter
   * (tracing leaves them out by default too). A failure is still logged as `request failed`.
   */
  skipPaths: z.array(z.string().startsWith("/", "A path starts with /").max(1_024)).max(100)
    .default(["/health", "/ready"]),
});

/** The fields every plugin block has, besides the plugin's own. */
export const PluginCommonConfig = z.strictObject({
  /** The plugin type; defaults to the instance name. */
  type: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  /** A required plugin must start for edgebox to start, and must be ready for `/ready`. */
  required: z.boolean().default(true),
  timeouts: z.strictObject({
    start: duration().default(30_000),
    ready: duration().default(2_000),
    stop: duration().default(10_000),
  }).default({ start: 30_000, ready: 2_000, stop: 10_000 }),
  /** Start attempts before a required plugin fails the boot. */
  startAttempts: z.number().int().min(1).max(100).default(3),
  /**
   * Backoff between start attempts and reconnects (doubles up to `maxDelay`, with jitter). The
   * 2s cap is what bounds recovery: a backend that comes back is used again within about 2s,
   * however long it was away, and an attempt is one cheap connect.
   */
  reconnect: z.strictObject({
    initialDelay: duration().default(500),
    maxDelay: duration().default(2_000),
  }).default({ initialDelay: 500, maxDelay: 2_000 }),
  /** How often `ready` is probed while the plugin runs. */
  healthInterval: duration().default(5_000),
});

/** The keys of {@linkcode PluginCommonConfig}, split off a block before plugin validation. */
export const pluginCommonKeys: readonly string[] = Object.keys(PluginCommonConfig.shape);

/** The whole file, with plugin blocks still unvalidated. */
export const RootConfig = z.strictObject({
  server: ServerConfig.default(ServerConfig.parse({})),
  auth: AuthConfig.default(AuthConfig.parse({})),
  log: LogConfig.default(LogConfig.parse({})),
  plugins: z.record(
    z.string().regex(INSTANCE_NAME, "Instance names are lowercase letters, digits, - and _"),
    z.union([z.record(z.string(), z.unknown()), z.null()]),
  ).default({}),
});

/** Validated `server:` section. */
export type ServerConfig = z.output<typeof ServerConfig>;
/** Validated `server.rateLimit:` section. */
export type RateLimitConfig = z.output<typeof RateLimitConfig>;
/** Validated `auth:` section. */
export type AuthConfig = z.output<typeof AuthConfig>;
/** Validated `log:` section. */
export type LogConfig = z.output<typeof LogConfig>;
/** Validated common fields of a plugin block. */
export type PluginCommonConfig = z.output<typeof PluginCommonConfig>;
