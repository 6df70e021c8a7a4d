/** Durations and sizes as config and query strings write them. */
import assert from "node:assert/strict";
import { duration, formatDuration, parseDuration, parseSize, size } from "../../core/units.ts";

Deno.test("parseDuration understands ms, s, m, h, d and w", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("1w"), 604_800_000);
});

Deno.test("parseDuration accepts zero", () => {
  assert.equal(parseDuration("0s"), 0);
  assert.equal(parseDuration("0ms"), 0);
});

Deno.test("parseDuration accepts fractions and rounds to the nearest millisecond", () => {
  assert.equal(parseDuration("1.5s"), 1_500);
  assert.equal(parseDuration("0.25m"), 15_000);
  assert.equal(parseDuration("1.4ms"), 1);
  assert.equal(parseDuration("1.6ms"), 2);
});

Deno.test("parseDuration ignores surrounding whitespace", () => {
  assert.equal(parseDuration("  30s\n"), 30_000);
});

Deno.test("parseDuration rejects a bare number, since its unit would be a guess", () => {
  assert.equal(parseDuration("30"), undefined);
});

Deno.test("parseDuration rejects negative, malformed and compound durations", () => {
  for (const text of ["", "s", "-1s", ".5s", "1.s", "1e3ms", "30 seconds", "1h30m", "1 s", "5y"]) {
    assert.equal(parseDuration(text), undefined, `expected ${JSON.stringify(text)} to be rejected`);
  }
});

Deno.test("parseDuration units are case-sensitive, so 1M cannot be mistaken for a month", () => {
  assert.equal(parseDuration("1M"), undefined);
  assert.equal(parseDuration("1S"), undefined);
});

Deno.test("parseSize reads a bare number as bytes", () => {
  assert.equal(parseSize("100"), 100);
  assert.equal(parseSize("0"), 0);
});

Deno.test("parseSize understands decimal units (kB = 1000 bytes)", () => {
  assert.equal(parseSize("1b"), 1);
  assert.equal(parseSize("1kB"), 1_000);
  assert.equal(parseSize("1MB"), 1_000_000);
  assert.equal(parseSize("1GB"), 1_000_000_000);
  assert.equal(parseSize("1TB"), 1_000_000_000_000);
});

Deno.test("parseSize understands binary units (KiB = 1024 bytes)", () => {
  assert.equal(parseSize("512KiB"), 512 * 1024);
  assert.equal(parseSize("1MiB"), 1_048_576);
  assert.equal(parseSize("1GiB"), 2 ** 30);
  assert.equal(parseSize("1TiB"), 2 ** 40);
});

Deno.test("parseSize units are case-insensitive", () => {
  assert.equal(parseSize("1mib"), 1_048_576);
  assert.equal(parseSize("1MIB"), 1_048_576);
  assert.equal(parseSize("2kb"), 2_000);
});

Deno.test("parseSize allows a space between number and unit", () => {
  assert.equal(parseSize("1 MiB"), 1_048_576);
  assert.equal(parseSize(" 4 KiB "), 4_096);
});

Deno.test("parseSize rounds fractional byte counts down", () => {
  assert.equal(parseSize("1.5KiB"), 1_536);
  assert.equal(parseSize("1.9"), 1);
  assert.equal(parseSize("0.5b"), 0);
});

Deno.test("parseSize rejects negative, unitless-letter and unknown-unit sizes", () => {
  for (const text of ["", "-1", "MiB", "1k", "1m", "1KiBs", "1 megabyte", "1.5.5MB", "1PB"]) {
    assert.equal(parseSize(text), undefined, `expected ${JSON.stringify(text)} to be rejected`);
  }
});

Deno.test("formatDuration writes sub-second values in ms", () => {
  assert.equal(formatDuration(0), "0ms");
  assert.equal(formatDuration(1), "1ms");
  assert.equal(formatDuration(999), "999ms");
});

Deno.test("formatDuration writes seconds with a fraction when needed", () => {
  assert.equal(formatDuration(1_000), "1s");
  assert.equal(formatDuration(1_500), "1.5s");
  assert.equal(formatDuration(90_000), "90s");
});

Deno.test("formatDuration uses the largest whole unit up to days", () => {
  assert.equal(formatDuration(60_000), "1m");
  assert.equal(formatDuration(5_400_000), "90m");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(129_600_000), "36h");
  assert.equal(formatDuration(86_400_000), "1d");
  assert.equal(formatDuration(604_800_000), "7d");
});

Deno.test("formatDuration output parses back to the same number of milliseconds", () => {
  const samples = [0, 1, 7, 999, 1_000, 1_001, 1_500, 59_999, 60_000, 61_000, 3_599_999, 3_600_000];
  samples.push(86_400_000, 90_061_001, 604_800_000, 4_000_000_001);
  for (const ms of samples) {
    assert.equal(
      parseDuration(formatDuration(ms)),
      ms,
      `round trip of ${ms} via ${formatDuration(ms)}`,
    );
  }
});

Deno.test("the duration schema accepts a duration string or a number of milliseconds", () => {
  assert.equal(duration().parse("30s"), 30_000);
  assert.equal(duration().parse(1_500), 1_500);
});

Deno.test("the duration schema rejects negative numbers and bare numeric strings", () => {
  assert.equal(duration().safeParse(-1).success, false);
  assert.equal(duration().safeParse("30").success, false);
});

Deno.test("the size schema accepts a size string or a whole number of bytes", () => {
  assert.equal(size().parse("1MiB"), 1_048_576);
  assert.equal(size().parse("1024"), 1_024);
  assert.equal(size().parse(2_048), 2_048);
});

Deno.test("the size schema rejects negative and fractional byte counts", () => {
  assert.equal(size().safeParse(-1).success, false);
  assert.equal(size().safeParse(1.5).success, false);
  assert.equal(size().safeParse("lots").success, false);
});
