/** `${VAR}` references in config values, as POSIX shells and Docker Compose write them. */
import assert from "node:assert/strict";
import { interpolate, type InterpolationResult } from "../../core/interpolate.ts";

const vars: Record<string, string> = {
  HOST: "db.internal",
  PORT: "5432",
  EMPTY: "",
  NESTED: "${HOST}",
};

function env(name: string): string | undefined {
  return vars[name];
}

function valueOf(result: InterpolationResult): string {
  assert.ok(result.ok, `expected success, got ${result.ok ? "" : result.error}`);
  return result.value;
}

function errorOf(result: InterpolationResult): string {
  assert.ok(!result.ok, `expected an error, got ${result.ok ? JSON.stringify(result.value) : ""}`);
  return result.error;
}

Deno.test("text without references is returned unchanged", () => {
  assert.equal(valueOf(interpolate("plain text: 100% sure", env)), "plain text: 100% sure");
});

Deno.test("${VAR} is replaced with the variable's value", () => {
  assert.equal(valueOf(interpolate("${HOST}", env)), "db.internal");
});

Deno.test("several references in one value are each replaced in place", () => {
  assert.equal(
    valueOf(interpolate("postgres://${HOST}:${PORT}/app", env)),
    "postgres://db.internal:5432/app",
  );
});

Deno.test("an unset ${VAR} without default is an error naming the variable", () => {
  assert.match(errorOf(interpolate("${MISSING}", env)), /\bMISSING\b/);
});

Deno.test("a ${VAR} set to the empty string is used as is", () => {
  assert.equal(valueOf(interpolate("[${EMPTY}]", env)), "[]");
});

Deno.test("${VAR:-default} uses the variable when it is set", () => {
  assert.equal(valueOf(interpolate("${HOST:-localhost}", env)), "db.internal");
});

Deno.test("${VAR:-default} uses the default when the variable is unset", () => {
  assert.equal(valueOf(interpolate("${MISSING:-localhost}", env)), "localhost");
});

Deno.test("${VAR:-default} uses the default when the variable is empty", () => {
  assert.equal(valueOf(interpolate("${EMPTY:-localhost}", env)), "localhost");
});

Deno.test("a default may contain colons, slashes and dashes", () => {
  assert.equal(
    valueOf(interpolate("${MISSING:-nats://localhost:4222/a-b}", env)),
    "nats://localhost:4222/a-b",
  );
});

Deno.test("${VAR:-} allows an unset variable to become the empty string", () => {
  assert.equal(valueOf(interpolate("${MISSING:-}", env)), "");
});

Deno.test("${VAR-default} uses the default only when the variable is unset, not when empty", () => {
  assert.equal(valueOf(interpolate("${MISSING-fallback}", env)), "fallback");
  assert.equal(valueOf(interpolate("${EMPTY-fallback}", env)), "");
});

Deno.test("${VAR:?message} uses the variable when it is set", () => {
  assert.equal(valueOf(interpolate("${PORT:?set the port}", env)), "5432");
});

Deno.test("${VAR:?message} is an error carrying the message when the variable is unset", () => {
  const error = errorOf(interpolate("${MISSING:?set the API key}", env));
  assert.match(error, /\bMISSING\b/);
  assert.match(error, /set the API key/);
});

Deno.test("${VAR:?message} is an error when the variable is empty", () => {
  assert.match(errorOf(interpolate("${EMPTY:?must not be empty}", env)), /must not be empty/);
});

Deno.test("${VAR?message} accepts an empty variable and refuses only an unset one", () => {
  assert.equal(valueOf(interpolate("${EMPTY?needed}", env)), "");
  assert.match(errorOf(interpolate("${MISSING?needed}", env)), /needed/);
});

Deno.test("${VAR:?} without a message is still an error naming the variable", () => {
  assert.match(errorOf(interpolate("${MISSING:?}", env)), /\bMISSING\b/);
});

Deno.test("$${ writes a literal ${ without looking anything up", () => {
  const looked: string[] = [];
  const spy = (name: string) => {
    looked.push(name);
    return env(name);
  };
  assert.equal(valueOf(interpolate("$${HOST}", spy)), "${HOST}");
  assert.deepEqual(looked, []);
});

Deno.test("an escaped reference and a real one can share a value", () => {
  assert.equal(valueOf(interpolate("$${HOST} is ${HOST}", env)), "${HOST} is db.internal");
});

Deno.test("a $ not followed by { is left alone", () => {
  assert.equal(valueOf(interpolate("$HOST costs $5 or $$", env)), "$HOST costs $5 or $$");
});

Deno.test("a variable's value is inserted literally, never expanded again", () => {
  assert.equal(valueOf(interpolate("${NESTED}", env)), "${HOST}");
});

Deno.test("a malformed reference is an error quoting the reference", () => {
  for (const text of ["${}", "${1ST}", "${HOST", "${HOST:+alt}", "${A B}"]) {
    const error = errorOf(interpolate(`x ${text} y`, env));
    assert.ok(error.includes(text), `expected the error for ${text} to quote it, got: ${error}`);
  }
});

Deno.test("with several problems, the first one in the value is reported", () => {
  const error = errorOf(interpolate("${FIRST_MISSING}/${SECOND_MISSING}", env));
  assert.match(error, /\bFIRST_MISSING\b/);
  assert.doesNotMatch(error, /SECOND_MISSING/);
});

Deno.test("variable names may hold letters, digits and underscores after the first letter", () => {
  const lookup = (name: string) => (name === "_My_Var2" ? "ok" : undefined);
  assert.equal(valueOf(interpolate("${_My_Var2}", lookup)), "ok");
});
