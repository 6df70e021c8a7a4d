/** "Did you mean" hints for misspelled keys, types and backends. */
import assert from "node:assert/strict";
import { closest, editDistance } from "../../core/suggest.ts";

Deno.test("editDistance of equal strings is zero", () => {
  assert.equal(editDistance("port", "port"), 0);
  assert.equal(editDistance("", ""), 0);
});

Deno.test("editDistance counts one insertion, deletion or substitution as one edit", () => {
  assert.equal(editDistance("prt", "port"), 1);
  assert.equal(editDistance("porrt", "port"), 1);
  assert.equal(editDistance("pert", "port"), 1);
});

Deno.test("editDistance counts swapping two adjacent letters as one edit", () => {
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("memroy", "memory"), 1);
});

Deno.test("editDistance from the empty string is the other string's length", () => {
  assert.equal(editDistance("", "redis"), 5);
  assert.equal(editDistance("redis", ""), 5);
});

Deno.test("editDistance is symmetric", () => {
  for (const [a, b] of [["greting", "greeting"], ["kitten", "sitting"], ["ca", "abc"]] as const) {
    assert.equal(editDistance(a, b), editDistance(b, a), `${a} / ${b}`);
  }
});

Deno.test("closest picks the nearest candidate", () => {
  assert.equal(closest("prot", ["host", "port", "bodyLimit"]), "port");
});

Deno.test("closest prefers the smaller distance over candidate order", () => {
  assert.equal(closest("shutdownTimout", ["shutdownTime", "shutdownTimeout"]), "shutdownTimeout");
});

Deno.test("closest keeps the first candidate on a tie", () => {
  assert.equal(closest("cat", ["bat", "hat"]), "bat");
});

Deno.test("closest ignores case but returns the candidate's own spelling", () => {
  assert.equal(closest("BODYLIMIT", ["bodyLimit"]), "bodyLimit");
});

Deno.test("closest returns an exact match", () => {
  assert.equal(closest("echo", ["cache", "echo"]), "echo");
});

Deno.test("closest suggests nothing when no candidate is a plausible typo", () => {
  assert.equal(closest("zzzz", ["host", "port"]), undefined);
  assert.equal(closest("storage", ["cache", "graph"]), undefined);
});

Deno.test("closest allows one edit in short names and about one per three letters in longer ones", () => {
  assert.equal(closest("pt", ["port"]), undefined);
  assert.equal(closest("pot", ["port"]), "port");
  assert.equal(closest("maxMesageLenght", ["maxMessageLength"]), "maxMessageLength");
  assert.equal(closest("mxMsgLen", ["maxMessageLength"]), undefined);
});

Deno.test("closest with no candidates suggests nothing", () => {
  assert.equal(closest("port", []), undefined);
});
