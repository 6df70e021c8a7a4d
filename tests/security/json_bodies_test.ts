/**
 * A JSON value is never changed on its way in: a document carrying a hazard that `JSON.parse`
 * or schema validation would silently alter (a lone surrogate, invalid UTF-8, a prototype key,
 * an integer beyond 2^53, a number beyond the double range, nesting past the limit) is refused
 * with 400 `core.json_invalid` naming the field, and nothing is stored; the same document
 * without the hazard is accepted.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SANITIZED } from "../_helpers.ts";
import { serveEdgebox } from "./_edgebox.ts";
import { runs } from "./_fc.ts";

/** A hazard: the JSON text to splice in as a value or key, and the field it should be named at. */
interface Hazard {
  /** `value`: spliced as a property value; `key`: spliced as a property name. */
  at: "value" | "key";
  json: string;
}

const hazard: fc.Arbitrary<Hazard> = fc.oneof(
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => ({
    at: "value" as const,
    json: `"a\\u${unit.toString(16)}b"`,
  })),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).chain((n) =>
    fc.constantFrom(n, -n).map((v) => ({ at: "value" as const, json: v.toString() }))
  ),
  fc.constantFrom("1e400", "-1e309", "123456789012345678901234567890").map((json) => ({
    at: "value" as const,
    json,
  })),
  fc.constantFrom("__proto__", "constructor", "prototype").map((key) => ({
    at: "key" as const,
    json: JSON.stringify(key),
  })),
);

/** Property names that stay clear of the graph's own rules (no `id`, plain identifiers). */
const name = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/).filter((n) => n !== "id");

Deno.test(
  "a JSON body with a value JSON cannot carry exactly is refused naming the field, and nothing is stored",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox();
    let node = 0;
    await fc.assert(
      fc.asyncProperty(name, hazard, fc.boolean(), async (field, hazard, nested) => {
        const id = `n${node++}`;
        const member = hazard.at === "key"
          ? `${hazard.json}: {"x": 1}`
          : `${JSON.stringify(field)}: ${hazard.json}`;
        const body = nested ? `{"tags": [{${member}}]}` : `{${member}}`;
        const response = await edgebox.admin(`/v1/graph/nodes/Feature/${id}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body,
        });
        const problem = await response.json();
        assert.equal(response.status, 400, `${body} -> ${JSON.stringify(problem)}`);
        assert.equal(problem.code, "core.json_invalid");
        const expected = hazard.at === "key" ? JSON.parse(hazard.json) : field;
        const prefix = nested ? "body.tags.0." : "body.";
        assert.equal(problem.field, `${prefix}${expected}`);
        const stored = await edgebox.admin(`/v1/graph/nodes/Feature/${id}`);
        await stored.body?.cancel();
        assert.equal(stored.status, 404, "nothing was stored");
      }),
      runs(150),
    );
  },
);

Deno.test("a body that is not UTF-8 is refused, not decoded to U+FFFD", SANITIZED, async () => {
  await using edgebox = await serveEdgebox();
  const bytes = new Uint8Array([...new TextEncoder().encode('{"name":"a'), 0xff, 0x22, 0x7d]);
  const response = await edgebox.admin("/v1/graph/nodes/Feature/bad-utf8", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: bytes,
  });
  const problem = await response.json();
  assert.equal(response.status, 400);
  assert.equal(problem.code, "core.json_invalid");
  assert.equal(problem.field, "body");
});

Deno.test("JSON nested deeper than server.maxJsonDepth is refused", SANITIZED, async () => {
  await using edgebox = await serveEdgebox({ server: { maxJsonDepth: 8 } });
  for (const depth of [9, 10_000]) {
    const body = `{"tags": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const response = await edgebox.admin("/v1/graph/nodes/Feature/deep", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body,
    });
    const problem = await response.json();
    assert.equal(response.status, 400, `depth ${depth}`);
    assert.equal(problem.code, "core.json_invalid");
  }
});

Deno.test(
  "the same documents without the hazard are accepted: safe integers, floats, astral text",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox();
    const response = await edgebox.admin("/v1/graph/nodes/Feature/fine", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body:
        '{"big": 9007199254740991, "neg": -9007199254740991, "f": 1.25e-300, "t": "\\ud83d\\ude00 日本 \u05d0"}',
    });
    const node = await response.json();
    assert.equal(response.status, 201, JSON.stringify(node));
    assert.equal(node.properties.big, 9007199254740991);
    assert.equal(node.properties.t, "\u{1F600} 日本 \u05d0");
  },
);
