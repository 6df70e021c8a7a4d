/**
 * Structured logging: one JSON object per line (or a readable line on a terminal), with
 * fields inherited by child loggers so every line of a request or plugin carries its context.
 * Every message and field goes through the redaction of `core/redact.ts` before it is written.
 */
import { redact, redactText } from "./redact.ts";

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
  /**
   * An info line whose own fields arrive as JSON object members (`"a":1,"b":"x"`, no braces),
   * for a line written on every request: building that text directly costs a fraction of
   * serialising a record (see `core/access_log.ts`). Message and members are written as given,
   * not redacted: give only values that never carry config (method, route template, status, ids).
   */
  infoJson(message: string, members: string): void;
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
  write?: (line: string, urgent: boolean) => void;
}

const encoder = new TextEncoder();

/**
 * Standard error, written in batches: lines queue up and go out in one write every few
 * milliseconds (or at once past 64 KiB), as pino's sonic-boom does, because a write call per line
 * costs more than a whole health-check request. `flushLogs` empties the queue; it also runs when
 * the process exits, and warnings and errors are written at once.
 */
let pending: string[] = [];
let pendingBytes = 0;
let flusher: ReturnType<typeof setInterval> | undefined;
const FLUSH_INTERVAL_MS = 20;
const FLUSH_BYTES = 65_536;

/** Writes every queued log line now. */
export function flushLogs(): void {
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join(""));
  pending = [];
  pendingBytes = 0;
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

function writeStderr(line: string, urgent: boolean): void {
  pending.push(line + "\n");
  pendingBytes += line.length + 1;
  if (urgent || pendingBytes > FLUSH_BYTES) flushLogs();
  else if (flusher === undefined) {
    // One unref'd interval for the life of the process: arming a timer per batch costs a busy
    // server more than the writes themselves, and an unref'd one never keeps the process alive.
    const interval = setInterval(flushLogs, FLUSH_INTERVAL_MS);
    Deno.unrefTimer(interval as unknown as number);
    flusher = interval;
  }
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

/** ISO time of the current millisecond, computed once per millisecond (busy servers log a lot). */
let lastMs = 0;
let lastIso = "";
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

function makeLogger(
  root: { level: LogLevel; format: LogFormat; write: (line: string, urgent: boolean) => void },
  context: LogFields,
): Logger {
  // The context is redacted and serialised once per logger, not once per line.
  const shownContext = redact(context) as LogFields;
  const contextJson = Object.keys(shownContext).length
    ? "," + safeStringify(shownContext).slice(1, -1)
    : "";
  const emit = (level: LogLevel, text: string, raw?: LogFields) => {
    if (severity[level] < severity[root.level]) return;
    const urgent = severity[level] >= severity.warn;
    const message = redactText(text);
    const fields = raw ? redact(raw) as LogFields : undefined;
    if (root.format === "json") {
      const extra = fields ? safeStringify(fields).slice(1, -1) : "";
      root.write(
        `{"time":"${isoNow()}","level":"${level}","msg":${JSON.stringify(message)}${contextJson}${
          extra ? "," + extra : ""
        }}`,
        urgent,
      );
    } else {
      root.write(
        pretty({ time: isoNow(), level, msg: message, ...shownContext, ...fields }),
        urgent,
      );
    }
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    infoJson: (message, members) => {
      if (severity.info < severity[root.level]) return;
      if (root.format !== "json") return emit("info", message, JSON.parse(`{${members}}`));
      root.write(
        `{"time":"${isoNow()}","level":"info","msg":${
          JSON.stringify(message)
        }${contextJson},${members}}`,
        false,
      );
    },
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

/** JSON of a log record; plain `JSON.stringify` unless a value needs help (errors, bigints). */
function safeStringify(record: LogFields): string {
  let plain = true;
  for (const key in record) {
    const value = record[key];
    if (
      value instanceof Error || typeof value === "bigint" ||
      (typeof value === "object" && value !== null)
    ) {
      plain = false;
      break;
    }
  }
  if (plain) return JSON.stringify(record);
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
