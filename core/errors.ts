/**
 * One error model for the whole runtime: every failure that reaches HTTP is an
 * {@linkcode EdgeboxError} rendered as RFC 9457 problem+json with a stable `code`.
 *
 * Codes live in tables (this one for the core, one per plugin that needs its own) so users
 * can match on them, the way Fastify's `FST_ERR_*` codes work.
 */
import { redactText } from "./redact.ts";

/** What a row of an error table says about one kind of failure. */
export interface ErrorSpec {
  /** HTTP status the error maps to. */
  status: number;
  /** Short, stable, human summary (RFC 9457 `title`). */
  title: string;
}

/** The core's error table; plugin tables follow the same `area.reason` naming. */
export const coreErrors = {
  "core.not_found": { status: 404, title: "Not found" },
  "core.method_not_allowed": { status: 405, title: "Method not allowed" },
  "core.method_not_implemented": { status: 501, title: "Method not implemented" },
  "core.path_invalid": { status: 400, title: "Request path is invalid" },
  "core.body_timeout": { status: 408, title: "Request body timed out" },
  "core.json_invalid": { status: 400, title: "JSON body is invalid" },
  "core.unsupported_media_type": { status: 415, title: "Unsupported media type" },
  "core.body_too_large": { status: 413, title: "Request body too large" },
  "core.validation_failed": { status: 400, title: "Request is invalid" },
  "core.bad_request": { status: 400, title: "Bad request" },
  "core.unauthorized": { status: 401, title: "Authentication required" },
  "core.forbidden": { status: 403, title: "Not allowed" },
  "core.plugin_unavailable": { status: 503, title: "Plugin unavailable" },
  "core.rate_limited": { status: 429, title: "Too many requests" },
  "core.shutting_down": { status: 503, title: "Server is shutting down" },
  "core.config_invalid": { status: 400, title: "Config is invalid" },
  "core.reload_refused": { status: 409, title: "Cannot reload" },
  "core.internal": { status: 500, title: "Internal error" },
} as const satisfies Record<string, ErrorSpec>;

/** A code from the core table. */
export type CoreErrorCode = keyof typeof coreErrors;

/** Extra data an error may carry into its problem document. */
export interface ErrorOptions {
  /** Human explanation of this occurrence (RFC 9457 `detail`). */
  detail?: string;
  /** The request field at fault, as a dotted path (`query.ttl`, `body.items.0.key`). */
  field?: string;
  /** Extra response headers, e.g. `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  /** Additional members for the problem document. */
  extra?: Record<string, unknown>;
  /** The underlying error, kept for logs, never sent to clients. */
  cause?: unknown;
}

/** An error that knows how to become problem+json. */
export class EdgeboxError extends Error {
  override readonly name = "EdgeboxError";
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(code: string, spec: ErrorSpec, options: ErrorOptions = {}) {
    super(options.detail ?? spec.title, { cause: options.cause });
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.field = options.field;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  /** The same error naming another request field (`body.items.3.key` instead of `path.key`). */
  at(field: string): EdgeboxError {
    return new EdgeboxError(this.code, this, {
      detail: this.message,
      field,
      headers: this.headers,
      extra: this.extra,
      ...(this.cause === undefined ? {} : { cause: this.cause }),
    });
  }
}

/**
 * Builds a factory for the codes of one error table, so call sites read
 * `cacheError("cache.key_invalid", {...})` and a typo in the code is a type error.
 */
export function errorFactory<T extends Record<string, ErrorSpec>>(
  table: T,
): (code: keyof T & string, options?: ErrorOptions) => EdgeboxError {
  return (code, options) => new EdgeboxError(code, table[code] as ErrorSpec, options);
}

/** A plugin's error table, ready to use: `errors("cache.key_invalid", {...})`, `errors.unavailable(...)`. */
export interface Errors<Code extends string> {
  (code: Code, options?: ErrorOptions): EdgeboxError;
  /**
   * The table's 503 for a backend that cannot answer now, with `Retry-After` (the core replaces
   * it with the instance's reconnect schedule when the answer leaves through a plugin mount).
   */
  unavailable(detail: string, cause?: unknown): EdgeboxError;
}

/**
 * Declares a plugin's error table (codes named `<plugin>.<reason>`, each with a status and a
 * title) and which of its codes means "backend unavailable" (default: `<plugin>.unavailable`).
 */
export function defineErrors<T extends Record<string, ErrorSpec>>(
  table: T,
  options: { unavailable?: keyof T & string } = {},
): Errors<keyof T & string> {
  const create = errorFactory(table);
  const code = options.unavailable ??
    Object.keys(table).find((name) => name.endsWith(".unavailable"));
  return Object.assign(create, {
    unavailable(detail: string, cause?: unknown): EdgeboxError {
      if (code === undefined) {
        return coreError("core.plugin_unavailable", {
          detail,
          headers: { "Retry-After": "1" },
          ...(cause === undefined ? {} : { cause }),
        });
      }
      return create(code as keyof T & string, {
        detail,
        headers: { "Retry-After": "1" },
        ...(cause === undefined ? {} : { cause }),
      });
    },
  });
}

/** Creates an error from the core table. */
export const coreError: (code: CoreErrorCode, options?: ErrorOptions) => EdgeboxError =
  errorFactory(coreErrors);

/** The RFC 9457 document edgebox sends. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  instance?: string;
  field?: string;
  [member: string]: unknown;
}

/** Renders an error as a problem document. */
export function toProblem(
  error: EdgeboxError,
  context: { requestId?: string; instance?: string } = {},
): ProblemDocument {
  const problem: ProblemDocument = {
    type: `https://edgebox.dev/problems/${error.code}`,
    title: error.title,
    status: error.status,
    detail: redactText(error.message),
    code: error.code,
  };
  if (error.field !== undefined) problem.field = error.field;
  if (context.instance !== undefined) problem.instance = context.instance;
  if (context.requestId !== undefined) problem.requestId = context.requestId;
  // Extension members come after the standard ones and never replace them.
  for (const [key, value] of Object.entries(error.extra)) {
    if (!(key in problem)) problem[key] = value;
  }
  return problem;
}

/** Builds the problem+json response for an error. */
export function problemResponse(
  error: EdgeboxError,
  context: { requestId?: string; instance?: string } = {},
): Response {
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/problem+json");
  if (context.requestId !== undefined) headers.set("x-request-id", context.requestId);
  return new Response(JSON.stringify(toProblem(error, context)), {
    status: error.status,
    headers,
  });
}
