/**
 * Structured logging: one JSON object per line (or a readable line on a terminal), with
 * fields inherited by child loggers so every line of a request or plugin carries its context.
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output shape: JSON lines for machines, aligned text for people. */
export type LogFormat = "json" | "pretty";

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Context attached to log lines. */
export type LogFields = Record<string, unknown>;

/** A logger; children share their root's level, so a runtime level change reaches all. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** True when lines of this level are written (skip building costly fields otherwise). */
  enabled(level: LogLevel): boolean;
  /** A logger whose lines carry these fields too. */
  child(fields: LogFields): Logger;
  /** The level of the whole logger tree. */
  level: LogLevel;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where finished lines go; standard error by default (as Caddy does). */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

/**
 * Standard error, written in batches: lines queue up and go out in one write per event-loop turn
 * (or sooner past 64 KiB), as pino does, because a write call per line costs more than a whole
 * health-check request. `flushLogs` empties the queue; it also runs when the process exits.
 */
let pending: string[] = [];
let pendingBytes = 0;
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/** Writes every queued log line now. */
export function flushLogs(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join(""));
  pending = [];
  pendingBytes = 0;
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

function writeStderr(line: string): void {
  pending.push(line + "\n");
  pendingBytes += line.length + 1;
  if (pendingBytes > 65_536) flushLogs();
  else flushTimer ??= setTimeout(flushLogs, 0);
}

globalThis.addEventListener("unload", flushLogs);

/** Creates a root logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const root = {
    level: options.level ?? "info",
    format: options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json"),
    write: options.write ?? writeStderr,
  };
  return makeLogger(root, {});
}

function makeLogger(
  root: { level: LogLevel; format: LogFormat; write: (line: string) => void },
  context: LogFields,
): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (severity[level] < severity[root.level]) return;
    const record = { time: new Date().toISOString(), level, msg: message, ...context, ...fields };
    root.write(root.format === "json" ? safeStringify(record) : pretty(record));
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    enabled: (level) => severity[level] >= severity[root.level],
    child: (fields) => makeLogger(root, { ...context, ...fields }),
    get level() {
      return root.level;
    },
    set level(level: LogLevel) {
      root.level = level;
    },
  };
}

function safeStringify(record: LogFields): string {
  return JSON.stringify(record, (_key, value) => {
    if (value instanceof Error) {
      return {
        name: value.name,
        message: value.message,
        ...("code" in value ? { code: value.code } : {}),
      };
    }
    return typeof value === "bigint" ? value.toString() : value;
  });
}

const levelColor: Record<string, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

function pretty(record: LogFields): string {
  const { time, level, msg, ...rest } = record as { time: string; level: string; msg: string };
  const extras = Object.entries(rest)
    .map(([key, value]) =>
      `${key}=${typeof value === "string" ? value : safeStringify({ v: value }).slice(5, -1)}`
    )
    .join(" ");
  const color = levelColor[level] ?? "";
  return `${time.slice(11, 23)} ${color}${level.toUpperCase().padEnd(5)}\x1b[0m ${msg}${
    extras ? "  " + extras : ""
  }`;
}
