/**
 * Property values through the graph's HTTP routes on the memory backend: every value the
 * property rules accept (scalars, typed values of every kind, homogeneous lists) reads back
 * exactly as it was sent, and every malformed typed object (unknown kind, extra keys, wrong
 * payload, a non-canonical spelling) is a 400 naming the property, with nothing stored.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { graphPlugin } from "../../plugins/graph/mod.ts";
import { valueProblem } from "../../plugins/graph/typed_values.ts";
import { configYaml, openApp, problemOf, type RunningApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const registry = new Map([["graph", graphPlugin]]);
const LIMITS = { maxStringLength: 64, maxArrayLength: 8 };

async function open(): Promise<RunningApp> {
  return await openApp(configYaml({ graph: { backend: "memory", ...LIMITS } }), registry);
}

async function put(app: RunningApp, id: string, text: string): Promise<Response> {
  return await app.request(`/v1/graph/nodes/Prop/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: text,
  });
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");
const date = fc.record({
  year: fc.integer({ min: 0, max: 9999 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
}).map((d) => `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}`);
const time = fc.record({
  h: fc.integer({ min: 0, max: 23 }),
  m: fc.integer({ min: 0, max: 59 }),
  s: fc.integer({ min: 0, max: 59 }),
  ns: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 999_999_999 })),
}).map((t) =>
  `${pad(t.h, 2)}:${pad(t.m, 2)}:${pad(t.s, 2)}${t.ns === 0 ? "" : `.${pad(t.ns, 9)}`}`
);
const offset = fc.oneof(
  fc.constant("Z"),
  fc.record({ sign: fc.constantFrom("+", "-"), h: fc.integer({ min: 0, max: 17 }) })
    .filter((o) => o.h !== 0)
    .map((o) => `${o.sign}${pad(o.h, 2)}:00`),
);
const bigInt = fc.oneof(
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) }),
).map((n) => ({ $int: n.toString() }));

/** Every kind of value the rules accept, each in its one spelling. */
const scalar = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.boolean(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  bigInt,
  fc.oneof(
    fc.constantFrom("NaN", "Infinity", "-Infinity", "-0"),
    fc.integer().map(String),
  ).map(($float) => ({ $float })),
  date.map(($date) => ({ $date })),
  time.map(($localtime) => ({ $localtime })),
  fc.tuple(time, offset).map(([t, o]) => ({ $time: t + o })),
  fc.tuple(date, time).map(([d, t]) => ({ $localdatetime: `${d}T${t}` })),
  fc.tuple(date, time, offset).map(([d, t, o]) => ({ $datetime: `${d}T${t}${o}` })),
  fc.constantFrom("PT0S", "P1DT2H", "P1Y2M3DT4H5M6.700000000S", "PT-1.500000000S")
    .map(($duration) => ({ $duration })),
  fc.record({
    srid: fc.constant(4326),
    x: fc.double({ min: -180, max: 180, noNaN: true }),
    y: fc.double({ min: -90, max: 90, noNaN: true }),
  }).map(($point) => ({ $point })),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ $bytes: bytes.toBase64() })),
);
const accepted = fc.oneof(
  scalar,
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 8 }),
  fc.array(fc.oneof(fc.integer(), bigInt), { maxLength: 8 }),
  fc.array(date.map(($date) => ({ $date })), { maxLength: 8 }),
).filter((value) => valueProblem(value, LIMITS) === undefined);

Deno.test("every accepted property value reads back exactly", SANITIZED, async () => {
  await using app = await open();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.constantFrom("a", "b", "c"), accepted), async (props) => {
      const id = `n${n++}`;
      const text = JSON.stringify(props);

      const response = await put(app, id, text);
      const read = await app.request(`/v1/graph/nodes/Prop/${id}`);

      assert.equal(response.status, 201, await response.text());
      assert.deepEqual((await read.json()).properties, JSON.parse(text));
    }),
    runs(200),
  );
});

/** Typed objects that are not one of the accepted spellings. */
const malformed = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) =>
    ![
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
    ].includes(k)
  ).map((k) => ({ [`$${k}`]: "x" })),
  fc.record({ $int: fc.integer().map(String) }),
  fc.record({ $int: fc.string({ maxLength: 24 }) }),
  fc.record({ $float: fc.double({ noNaN: true }).filter((n) => !Number.isInteger(n)).map(String) }),
  fc.record({ $date: fc.string({ maxLength: 16 }) }),
  fc.record({ $datetime: date.map((d) => `${d}T12:00:00.000Z`) }),
  fc.record({ $duration: fc.string({ maxLength: 16 }) }),
  fc.record({
    $bytes: fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s.length % 4 !== 0),
  }),
  fc.record({ $point: fc.record({ srid: fc.integer(), x: fc.double(), y: fc.double() }) }),
  fc.record({ $date: date, extra: fc.string() }),
  fc.record({ $date: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)) }),
).filter((value) => valueProblem(value, LIMITS) !== undefined);

Deno.test("every malformed typed object is 400 naming the property", SANITIZED, async () => {
  await using app = await open();
  await fc.assert(
    fc.asyncProperty(malformed, fc.boolean(), async (value, inList) => {
      const text = JSON.stringify({ ok: 1, bad: inList ? [value] : value });

      const response = await put(app, "bad", text);
      const problem = await problemOf(response);

      assert.equal(response.status, 400);
      // The strict JSON reader may name a number inside it (`body.bad.$point.y`) first.
      const field = inList ? "body.bad.0" : "body.bad";
      assert.ok(
        problem.field === field || String(problem.field).startsWith(`${field}.`),
        `${problem.field} names ${field}`,
      );
      const read = await app.request("/v1/graph/nodes/Prop/bad");
      await read.body?.cancel();
      assert.equal(read.status, 404);
    }),
    runs(200),
  );
});
