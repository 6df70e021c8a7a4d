import assert from "node:assert/strict";
import { EdgeboxError } from "../../core/errors.ts";
import { decodeUtf8, parseStrictJson } from "../../core/strict_json.ts";

const parse = (text: string, maxDepth = 64) => parseStrictJson(text, { maxDepth });

function fieldOfRefusal(text: string, maxDepth = 64): string | undefined {
  try {
    parse(text, maxDepth);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof EdgeboxError);
    assert.equal(error.code, "core.json_invalid");
    return error.field;
  }
}

Deno.test("ordinary JSON parses to the same value JSON.parse gives", () => {
  const text = '{"a":[1,2.5,-3e10,"x",null,true],"b":{"c":"日本 \\ud83d\\ude00"}}';
  assert.deepEqual(parse(text), JSON.parse(text));
});

Deno.test("integers beyond +-(2^53-1) are refused naming the field; safe ones and floats pass", () => {
  assert.equal(fieldOfRefusal('{"n": 9007199254740993}'), "body.n");
  assert.equal(fieldOfRefusal('{"a": [1, -9007199254740993]}'), "body.a.1");
  assert.equal(fieldOfRefusal('{"n": 1e400}'), "body.n");
  assert.equal(fieldOfRefusal('{"n": 9007199254740991, "f": 0.12345678901234567890}'), undefined);
});

Deno.test("lone surrogates in values and keys are refused", () => {
  assert.equal(fieldOfRefusal('{"s": "a\\ud800"}'), "body.s");
  assert.equal(fieldOfRefusal('{"\\udc00": 1}'), "body");
  assert.equal(fieldOfRefusal('"\\ud83d\\ude00"'), undefined);
});

Deno.test("prototype keys are refused at any depth", () => {
  assert.equal(fieldOfRefusal('{"__proto__": {"admin": true}}'), "body.__proto__");
  assert.equal(fieldOfRefusal('{"a": [{"constructor": 1}]}'), "body.a.0.constructor");
  assert.equal(fieldOfRefusal('{"prototype": 1}'), "body.prototype");
});

Deno.test("nesting past the limit is refused, even far past it", () => {
  assert.equal(fieldOfRefusal("[[[]]]", 3), undefined);
  assert.ok(fieldOfRefusal("[[[[]]]]", 3)?.startsWith("body"));
  assert.ok(fieldOfRefusal("[".repeat(100_000) + "]".repeat(100_000), 64)?.startsWith("body"));
});

Deno.test("text that is not JSON is refused with the parser's reason", () => {
  assert.equal(fieldOfRefusal("{nope"), "body");
});

Deno.test("invalid UTF-8 is refused instead of decoded to U+FFFD", () => {
  assert.throws(
    () => decodeUtf8(new Uint8Array([0x61, 0xff]), { json: true }),
    (e: unknown) => e instanceof EdgeboxError && e.code === "core.json_invalid",
  );
  assert.throws(
    () => decodeUtf8(new Uint8Array([0xc3]), { json: false }),
    (e: unknown) => e instanceof EdgeboxError && e.code === "core.bad_request",
  );
  assert.equal(decodeUtf8(new TextEncoder().encode("日本"), { json: true }), "日本");
});
