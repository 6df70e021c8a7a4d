/**
 * The typed value form: property values JSON cannot carry exactly (integers past +-(2^53-1),
 * floats JSON would print as integers, temporal and spatial values, byte arrays) travel as
 * one-key objects such as `{"$int": "9007199254740993"}` or `{"$date": "2026-12-05"}`, in both
 * directions and on every driver. Each value has exactly one spelling (the one Neo4j's own
 * driver prints), so what is accepted reads back byte for byte: a spelling that is valid but not
 * canonical is refused with the canonical one in the message. This module imports no backend:
 * the embedded drivers store the checked strings as they are, the Neo4j driver converts them.
 */

/** A 64-bit integer beyond +-(2^53-1), as its decimal digits. */
export interface IntValue {
  readonly $int: string;
}
/** A float JSON would print as an integer or cannot print: `"2"`, `"-0"`, `"NaN"`, `"Infinity"`. */
export interface FloatValue {
  readonly $float: string;
}
/** A point: `srid` 7203 (x, y), 9157 (x, y, z), 4326 (longitude x, latitude y) or 4979 (plus z). */
export interface PointFields {
  readonly srid: number;
  readonly x: number;
  readonly y: number;
  readonly z?: number;
}

/** Every typed value. */
export type TypedValue =
  | IntValue
  | FloatValue
  | { readonly $date: string }
  | { readonly $time: string }
  | { readonly $localtime: string }
  | { readonly $datetime: string }
  | { readonly $localdatetime: string }
  | { readonly $duration: string }
  | { readonly $point: PointFields }
  | { readonly $bytes: string };

/** The key of a typed value, which names its kind. */
export type TypedKind =
  | "$int"
  | "$float"
  | "$date"
  | "$time"
  | "$localtime"
  | "$datetime"
  | "$localdatetime"
  | "$duration"
  | "$point"
  | "$bytes";

/** Every kind, in the order the README lists them. */
export const TYPED_KINDS: readonly TypedKind[] = [
  "$int",
  "$float",
  "$date",
  "$time",
  "$localtime",
  "$datetime",
  "$localdatetime",
  "$duration",
  "$point",
  "$bytes",
];

/** The kind of a typed value, or `undefined` for anything else. */
export function typedKind(value: unknown): TypedKind | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  return (TYPED_KINDS as readonly string[]).includes(keys[0]!) ? keys[0] as TypedKind : undefined;
}

/** Longest temporal, `$int` or `$float` text looked at (the longest valid one is shorter). */
const MAX_TEXT = 96;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NANOS = 1_000_000_000n;
const SRIDS: Readonly<Record<number, "2d" | "3d">> = {
  7203: "2d",
  9157: "3d",
  4326: "2d",
  4979: "3d",
};

/** What is wrong with a typed value (`kind` already known), or `undefined` when it is canonical. */
export function typedProblem(
  kind: TypedKind,
  value: unknown,
  limits: { maxBytesLength: number },
): string | undefined {
  if (kind === "$point") return pointProblem(value);
  if (typeof value !== "string") return `${kind} takes a string`;
  if (kind === "$bytes") return bytesProblem(value, limits.maxBytesLength);
  if (value.length > MAX_TEXT) return `${kind} is at most ${MAX_TEXT} characters`;
  switch (kind) {
    case "$int":
      return intProblem(value);
    case "$float":
      return floatProblem(value);
    case "$duration":
      return canonical(value, parseDuration, formatDuration, "a duration such as P1DT2H");
    case "$date":
      return canonical(value, parseDate, formatDate, "a date such as 2026-12-05");
    case "$localtime":
      return canonical(value, parseLocalTime, formatLocalTime, "a time such as 12:00:00");
    case "$time":
      return canonical(value, parseTime, formatTime, "a time with offset such as 12:00:00+01:00");
    case "$localdatetime":
      return canonical(
        value,
        parseLocalDateTime,
        formatLocalDateTime,
        "a date-time such as 2026-12-05T12:00:00",
      );
    case "$datetime":
      return canonical(
        value,
        parseDateTime,
        formatDateTime,
        "a date-time with offset such as 2026-12-05T12:00:00+01:00 or " +
          "2026-12-05T12:00:00+01:00[Europe/Paris]",
      );
  }
}

function canonical<T>(
  text: string,
  parse: (text: string) => T | string,
  format: (value: T) => string,
  what: string,
): string | undefined {
  const parsed = parse(text);
  if (typeof parsed === "string") return `Expected ${what}: ${parsed}`;
  const spelled = format(parsed);
  return spelled === text ? undefined : `Write "${text}" as "${spelled}" (the one spelling kept)`;
}

function intProblem(text: string): string | undefined {
  if (!/^-?(0|[1-9]\d{0,18})$/.test(text)) {
    return "$int takes the decimal digits of a 64-bit integer, without leading zeros";
  }
  const value = BigInt(text);
  if (value < INT64_MIN || value > INT64_MAX) return "$int is beyond the 64-bit integer range";
  if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return `${text} fits in a JSON number: send it as the number ${text}`;
  }
  return undefined;
}

function floatProblem(text: string): string | undefined {
  if (text === "NaN" || text === "Infinity" || text === "-Infinity" || text === "-0") {
    return undefined;
  }
  const value = Number(text);
  if (text.trim() !== text || text === "" || Number.isNaN(value)) {
    return '$float takes a number\'s text, "NaN", "Infinity", "-Infinity" or "-0"';
  }
  if (!Number.isInteger(value)) {
    return `${text} has a fraction: send it as a plain JSON number`;
  }
  if (String(value) !== text) {
    return `Write "${text}" as "${String(value)}" (the one spelling kept)`;
  }
  return undefined;
}

function pointProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return '$point takes {"srid": 4326, "x": <longitude>, "y": <latitude>} (or 7203, 9157, 4979)';
  }
  const point = value as Record<string, unknown>;
  const dims = typeof point.srid === "number" ? SRIDS[point.srid] : undefined;
  if (!dims) return "$point.srid is 7203 or 4326 (2D) or 9157 or 4979 (3D)";
  const keys = dims === "3d" ? ["srid", "x", "y", "z"] : ["srid", "x", "y"];
  if (Object.keys(point).join(",") !== keys.join(",")) {
    return `A point of srid ${point.srid} has exactly the keys ${keys.join(", ")}, in that order`;
  }
  for (const axis of keys.slice(1)) {
    if (typeof point[axis] !== "number" || !Number.isFinite(point[axis])) {
      return `$point.${axis} is a finite number`;
    }
  }
  if (point.srid === 4326 || point.srid === 4979) {
    if (Math.abs(point.x as number) > 180) return "$point.x is a longitude: -180 to 180";
    if (Math.abs(point.y as number) > 90) return "$point.y is a latitude: -90 to 90";
  }
  return undefined;
}

function bytesProblem(text: string, maxBytesLength: number): string | undefined {
  if (text.length > Math.ceil(maxBytesLength / 3) * 4) {
    return `$bytes holds at most ${maxBytesLength} bytes`;
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(text);
  } catch {
    return "$bytes takes standard base64 (A-Z a-z 0-9 + /, padded with =)";
  }
  const spelled = bytes.toBase64();
  return spelled === text ? undefined : `Write "${text}" as "${spelled}" (the one spelling kept)`;
}

/** The bytes of a checked `$bytes` text. */
export function bytesOf(text: string): Uint8Array {
  return Uint8Array.fromBase64(text);
}

/** The `$bytes` text of bytes. */
export function bytesText(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** A float's typed text when JSON cannot carry it as it is, or `undefined` when a plain number does. */
export function floatText(value: number): string | undefined {
  if (Object.is(value, -0)) return "-0";
  if (Number.isNaN(value) || !Number.isFinite(value) || Number.isInteger(value)) {
    return String(value);
  }
  return undefined;
}

// --- temporal parsing and formatting (the spellings of neo4j-driver's toString) -------------

/** A calendar date. */
export interface DateFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}
/** A wall-clock time. */
export interface TimeFields {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly nanosecond: number;
}
/** A time with its offset from UTC. */
export interface OffsetTimeFields extends TimeFields {
  readonly offsetSeconds: number;
}
/** A date and a time. */
export type LocalDateTimeFields = DateFields & TimeFields;
/** A date-time with its offset, and its zone when it has one. */
export interface DateTimeFields extends LocalDateTimeFields {
  readonly offsetSeconds: number;
  readonly zone?: string;
}
/** A duration as Neo4j keeps it: months, days, seconds and nanoseconds (0..999,999,999). */
export interface DurationFields {
  readonly months: bigint;
  readonly days: bigint;
  readonly seconds: bigint;
  readonly nanoseconds: bigint;
}

const DATE = /^(\d{4}|[+-]\d{6,9})-(\d{2})-(\d{2})/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{9}))?/;
const OFFSET = /^(?:Z|([+-])(\d{2}):(\d{2})(?::(\d{2}))?)/;

/** Parses a date at the start of `text`; the rest is returned, or a problem. */
function dateAt(text: string): [DateFields, string] | string {
  const m = DATE.exec(text);
  if (!m) return "the date is YYYY-MM-DD (years outside 0000-9999 as +YYYYYY or -YYYYYY)";
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12) return "the month is 01 to 12";
  if (day < 1 || day > daysIn(year, month)) return `the day is 01 to ${daysIn(year, month)}`;
  return [{ year, month, day }, text.slice(m[0].length)];
}

function timeAt(text: string): [TimeFields, string] | string {
  const m = TIME.exec(text);
  if (!m) return "the time is HH:MM:SS, with .nnnnnnnnn (9 digits) when it has a fraction";
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const second = Number(m[3]);
  if (hour > 23 || minute > 59 || second > 59) return "the time is 00:00:00 to 23:59:59";
  return [{ hour, minute, second, nanosecond: Number(m[4] ?? 0) }, text.slice(m[0].length)];
}

function offsetAt(text: string): [number, string] | string {
  const m = OFFSET.exec(text);
  if (!m) return "the offset is Z or +HH:MM";
  const sign = m[1] === "-" ? -1 : 1;
  const seconds = m[1] === undefined
    ? 0
    : sign * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0));
  if (Math.abs(seconds) > 18 * 3600 || Number(m[3] ?? 0) > 59 || Number(m[4] ?? 0) > 59) {
    return "the offset is at most 18 hours";
  }
  return [seconds, text.slice(m[0].length)];
}

function end<T>(parsed: [T, string] | string): T | string {
  if (typeof parsed === "string") return parsed;
  return parsed[1] === "" ? parsed[0] : `unexpected "${parsed[1].slice(0, 20)}"`;
}

/** Parses a `$date`, or says what is wrong. */
export function parseDate(text: string): DateFields | string {
  return end(dateAt(text));
}

/** Parses a `$localtime`. */
export function parseLocalTime(text: string): TimeFields | string {
  return end(timeAt(text));
}

/** Parses a `$time`. */
export function parseTime(text: string): OffsetTimeFields | string {
  const time = timeAt(text);
  if (typeof time === "string") return time;
  const offset = offsetAt(time[1]);
  if (typeof offset === "string") return offset;
  return end([{ ...time[0], offsetSeconds: offset[0] }, offset[1]]);
}

/** Parses a `$localdatetime`. */
export function parseLocalDateTime(text: string): LocalDateTimeFields | string {
  return end(localDateTimeAt(text));
}

function localDateTimeAt(text: string): [LocalDateTimeFields, string] | string {
  const date = dateAt(text);
  if (typeof date === "string") return date;
  if (!date[1].startsWith("T")) return "the date and the time are joined by T";
  const time = timeAt(date[1].slice(1));
  if (typeof time === "string") return time;
  return [{ ...date[0], ...time[0] }, time[1]];
}

/** Parses a `$datetime`: an offset, then optionally `[Zone/Id]` (whose offset it must be). */
export function parseDateTime(text: string): DateTimeFields | string {
  const local = localDateTimeAt(text);
  if (typeof local === "string") return local;
  const offset = offsetAt(local[1]);
  if (typeof offset === "string") return offset;
  const rest = offset[1];
  if (rest === "") return { ...local[0], offsetSeconds: offset[0] };
  const zone = /^\[([A-Za-z][A-Za-z0-9_+\-/]{0,63})\]$/.exec(rest)?.[1];
  if (!zone) return "a zone follows the offset in brackets, such as [Europe/Paris]";
  const fields = { ...local[0], offsetSeconds: offset[0], zone };
  const actual = zoneOffset(fields);
  if (typeof actual === "string") return actual;
  if (actual !== offset[0]) {
    return `the offset of ${zone} at that time is ${formatOffset(actual)}`;
  }
  return fields;
}

/** The offset of a zoned date-time's zone at its instant (Intl's tz data), or a problem. */
function zoneOffset(fields: DateTimeFields & { zone: string }): number | string {
  if (fields.year < 1 || fields.year > 9999) return "zoned date-times have years 0001 to 9999";
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: fields.zone,
      timeZoneName: "longOffset",
    });
  } catch {
    return `"${fields.zone}" is not a time zone`;
  }
  const instant = new Date(0);
  instant.setUTCFullYear(fields.year, fields.month - 1, fields.day);
  instant.setUTCHours(fields.hour, fields.minute, fields.second - fields.offsetSeconds);
  const name = format.formatToParts(instant).find((p) => p.type === "timeZoneName")?.value ?? "";
  const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name);
  if (!m) return `the offset of ${fields.zone} cannot be worked out`;
  if (m[1] === undefined) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0));
}

/** Parses a `$duration` in the driver's spelling: `P1Y2M3DT4H5M6.700000000S`, `PT0S`. */
export function parseDuration(text: string): DurationFields | string {
  if (text === "PT0S") return { months: 0n, days: 0n, seconds: 0n, nanoseconds: 0n };
  const m =
    /^P(?:(-?\d{1,19})Y)?(?:(-?\d{1,19})M)?(?:(-?\d{1,19})D)?T(?:(-?\d{1,19})H)?(?:(-?\d{1,19})M)?(?:(-?)(\d{1,19})(?:\.(\d{9}))?S)?$/
      .exec(text);
  if (!m) return "the duration is PnYnMnDTnHnMn.nnnnnnnnnS";
  const n = (group: string | undefined) => BigInt(group ?? "0");
  const months = n(m[1]) * 12n + n(m[2]);
  const seconds = (m[6] === "-" ? -1n : 1n) * (n(m[7]) * NANOS + n(m[8]));
  const total = (n(m[4]) * 3600n + n(m[5]) * 60n) * NANOS + seconds;
  const fields = {
    months,
    days: n(m[3]),
    seconds: floorDiv(total, NANOS),
    nanoseconds: total - floorDiv(total, NANOS) * NANOS,
  };
  for (const key of ["months", "days", "seconds"] as const) {
    if (fields[key] < INT64_MIN || fields[key] > INT64_MAX) return `its ${key} overflow 64 bits`;
  }
  return fields;
}

/** The driver's spelling of a date. */
export function formatDate(date: DateFields): string {
  const year = date.year < 0 || date.year > 9999
    ? `${date.year < 0 ? "-" : "+"}${pad(Math.abs(date.year), 6)}`
    : pad(date.year, 4);
  return `${year}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/** The driver's spelling of a wall-clock time. */
export function formatLocalTime(time: TimeFields): string {
  const fraction = time.nanosecond === 0 ? "" : `.${pad(time.nanosecond, 9)}`;
  return `${pad(time.hour, 2)}:${pad(time.minute, 2)}:${pad(time.second, 2)}${fraction}`;
}

/** The driver's spelling of an offset: `Z`, `+01:00`, `-03:30:15`. */
export function formatOffset(seconds: number): string {
  if (seconds === 0) return "Z";
  const abs = Math.abs(seconds);
  const rest = abs % 60;
  return `${seconds < 0 ? "-" : "+"}${pad(Math.floor(abs / 3600), 2)}:${
    pad(Math.floor(abs / 60) % 60, 2)
  }${rest === 0 ? "" : `:${pad(rest, 2)}`}`;
}

/** The driver's spelling of a time with offset. */
export function formatTime(time: OffsetTimeFields): string {
  return formatLocalTime(time) + formatOffset(time.offsetSeconds);
}

/** The driver's spelling of a local date-time. */
export function formatLocalDateTime(value: LocalDateTimeFields): string {
  return `${formatDate(value)}T${formatLocalTime(value)}`;
}

/** The driver's spelling of a date-time: offset, then `[zone]` when it has one. */
export function formatDateTime(value: DateTimeFields): string {
  return formatLocalDateTime(value) + formatOffset(value.offsetSeconds) +
    (value.zone === undefined ? "" : `[${value.zone}]`);
}

/** The driver's spelling of a duration (`durationToIsoString` of neo4j-driver-core). */
export function formatDuration(d: DurationFields): string {
  const { months, days, seconds, nanoseconds } = d;
  if (months === 0n && days === 0n && seconds === 0n && nanoseconds === 0n) return "PT0S";
  const adjusted = nanoseconds > 0n && seconds < 0n ? seconds + 1n : seconds;
  const hours = adjusted / 3600n;
  const minutesTotal = adjusted / 60n;
  const minutes = minutesTotal < 0n ? -(-minutesTotal % 60n) : minutesTotal % 60n;
  let secondsText: string;
  let fraction = "";
  if (seconds < 0n && nanoseconds > 0n) {
    const s = -((-(seconds + 1n)) % 60n);
    secondsText = s === 0n ? "-0" : s.toString();
    fraction = nanosText((-nanoseconds + 2n * NANOS) % NANOS);
  } else {
    secondsText = (seconds % 60n).toString();
    if (nanoseconds > 0n) fraction = nanosText((nanoseconds + NANOS) % NANOS);
  }
  const secondsPart = secondsText + fraction;
  const years = months / 12n;
  const monthsLeft = months % 12n;
  return `P${years !== 0n ? `${years}Y` : ""}${monthsLeft !== 0n ? `${monthsLeft}M` : ""}${
    days !== 0n ? `${days}D` : ""
  }T${hours !== 0n ? `${hours}H` : ""}${minutes !== 0n ? `${minutes}M` : ""}${
    secondsPart !== "0" ? `${secondsPart}S` : ""
  }`;
}

function nanosText(value: bigint): string {
  return value === 0n ? "" : `.${value.toString().padStart(9, "0")}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function pad(value: number, length: number): string {
  return String(value).padStart(length, "0");
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// --- property values ------------------------------------------------------------------------

/** What property values may be: the limits of one graph instance. */
export interface ValueLimits {
  readonly maxStringLength: number;
  readonly maxArrayLength: number;
}

/** A fault in a property value: where inside it (array index), and what. */
export interface ValueProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const SHAPES = "a string, a number, a boolean, a typed value such as " +
  '{"$int": "9007199254740993"} or {"$date": "2026-12-05"}, or a list of one of those';

/**
 * What is wrong with a property value, or `undefined` when it is one the graph keeps exactly: a
 * string, a boolean, a number (an integer within +-(2^53-1), or a float with a fraction), a
 * canonical typed value, or a list of values of one type (integers and `$int` together; floats
 * and `$float` together; typed values of one kind; no `$bytes`).
 */
export function valueProblem(value: unknown, limits: ValueLimits): ValueProblem | undefined {
  if (Array.isArray(value)) return listProblem(value, limits);
  const kind = scalarKind(value, limits);
  return typeof kind === "string" ? undefined : kind;
}

type ScalarKind = "string" | "boolean" | "int" | "float" | TypedKind;

function scalarKind(value: unknown, limits: ValueLimits): ScalarKind | ValueProblem {
  switch (typeof value) {
    case "string":
      return value.length <= limits.maxStringLength
        ? "string"
        : { path: [], message: `Strings are at most ${limits.maxStringLength} characters` };
    case "boolean":
      return "boolean";
    case "number":
      if (!Number.isFinite(value)) return { path: [], message: "Numbers are finite" };
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return {
          path: [],
          message: "An integral number beyond +-(2^53-1) cannot travel exactly as JSON: send an " +
            'integer as {"$int": "<digits>"}, a float as {"$float": "<number>"}',
        };
      }
      return Number.isInteger(value) ? "int" : "float";
  }
  const kind = typedKind(value);
  if (!kind) return { path: [], message: `Expected ${SHAPES}` };
  const problem = typedProblem(kind, (value as Record<string, unknown>)[kind], {
    maxBytesLength: limits.maxStringLength,
  });
  if (problem) return { path: [], message: problem };
  return kind === "$int" ? "int" : kind === "$float" ? "float" : kind;
}

function listProblem(list: readonly unknown[], limits: ValueLimits): ValueProblem | undefined {
  if (list.length > limits.maxArrayLength) {
    return { path: [], message: `Lists hold at most ${limits.maxArrayLength} values` };
  }
  const kinds: ScalarKind[] = [];
  for (const [i, item] of list.entries()) {
    if (Array.isArray(item)) return { path: [i], message: "Lists do not nest" };
    const kind = scalarKind(item, limits);
    if (typeof kind !== "string") return { path: [i, ...kind.path], message: kind.message };
    if (kind === "$bytes") return { path: [i], message: "Lists cannot hold $bytes" };
    kinds.push(kind);
  }
  const floats = kinds.includes("float");
  const expected = floats ? "float" : kinds[0];
  for (const [i, kind] of kinds.entries()) {
    if (floats && kind === "int") {
      const item = list[i];
      return {
        path: [i],
        message: typeof item === "number"
          ? `This list holds floats: write ${item} as {"$float": "${item}"}`
          : "This list holds floats: it cannot hold an $int",
      };
    }
    if (kind !== expected) {
      return { path: [i], message: "The values of a list are all of one type" };
    }
    if (kind === "$point") {
      const srid = (list[i] as { $point: PointFields }).$point.srid;
      if (srid !== (list[0] as { $point: PointFields }).$point.srid) {
        return { path: [i], message: "The points of a list share one srid" };
      }
    }
  }
  return undefined;
}
