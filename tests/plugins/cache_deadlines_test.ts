/** Specification of `plugins/cache/deadlines.ts`: one coarse timer bounding many operations. */
import assert from "node:assert/strict";
import { Deadlines } from "../../plugins/cache/deadlines.ts";

const timedOut = () => new Error("timed out");

Deno.test("an operation that settles in time keeps its value and leaves no timer", async () => {
  const deadlines = new Deadlines(1_000);
  assert.equal(await deadlines.run(Promise.resolve(42), timedOut), 42);
});

Deno.test("an operation that fails in time keeps its error", async () => {
  const deadlines = new Deadlines(1_000);
  await assert.rejects(deadlines.run(Promise.reject(new Error("refused")), timedOut), /refused/);
});

Deno.test("an operation that outlives the timeout is rejected with the timeout's error", async () => {
  const deadlines = new Deadlines(20, { resolution: 5 });
  const never = new Promise<never>(() => {});
  await assert.rejects(deadlines.run(never, timedOut), /timed out/);
});

Deno.test("only the operations past their deadline time out", async () => {
  const deadlines = new Deadlines(30, { resolution: 5 });
  const late = Promise.withResolvers<string>();
  const slow = deadlines.run(new Promise<string>(() => {}), timedOut);
  const fast = deadlines.run(late.promise, timedOut);
  late.resolve("done");
  assert.equal(await fast, "done");
  await assert.rejects(slow, /timed out/);
});

Deno.test("close stops the timer even with operations still running", () => {
  const deadlines = new Deadlines(60_000);
  void deadlines.run(new Promise<never>(() => {}), timedOut);
  deadlines.close();
  deadlines.close();
});
