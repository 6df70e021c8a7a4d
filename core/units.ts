/**
 * Durations (`500ms`, `30s`, `5m`, `7d`) and sizes (`512KiB`, `1MiB`, `1GB`) as they are
 * written in config and query strings, and the zod schemas that turn them into numbers.
 */
import { z } from "zod";

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const sizeUnits: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
// Spelled out rather than with the `i` flag: JSON Schema patterns have no flags, and the config
// schema is generated from this regex.
const SIZE = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT][iI]?[bB]|[bB])?$/;

/** Parses a duration such as `30s` into milliseconds; `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * durationUnits[match[2] as string]!);
}

/** Parses a size such as `1MiB` (or a bare byte count) into bytes; `undefined` when invalid. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? "b").toLowerCase();
  return Math.floor(Number(match[1]) * sizeUnits[unit]!);
}

/** Formats milliseconds the way config writes them (`1500` -> `1.5s`). */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms >= 1_000) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/**
 * A duration in config: a string like `30s` or a number of milliseconds. Parses to
 * milliseconds. The input side is plain JSON Schema so editors can check it.
 */
export function duration(): z.ZodPipe<
  z.ZodUnion<readonly [z.ZodNumber, z.ZodString]>,
  z.ZodTransform<number, string | number>
> {
  return z.union([
    z.number().nonnegative(),
    z.string().regex(DURATION, "Expected a duration such as 500ms, 30s, 5m, 1h or 7d"),
  ], { error: "Expected a duration such as 500ms, 30s, 5m, 1h or 7d (or milliseconds)" }).transform(
    (value) => typeof value === "number" ? value : parseDuration(value)!,
  );
}

/** A size in config: a string like `1MiB` or a number of bytes. Parses to bytes. */
export function size(): z.ZodPipe<
  z.ZodUnion<readonly [z.ZodNumber, z.ZodString]>,
  z.ZodTransform<number, string | number>
> {
  return z.union([
    z.number().int().nonnegative(),
    z.string().regex(SIZE, "Expected a size such as 512KiB, 1MiB or 1GB"),
  ], { error: "Expected a size such as 512KiB, 1MiB or 1GB (or bytes)" }).transform((value) =>
    typeof value === "number" ? value : parseSize(value)!
  );
}
