/**
 * The storage plugin's conditional request logic (RFC 9110 section 13) on its own: parsing the
 * headers, and evaluating them in the order of section 13.2.2.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { EdgeboxError } from "../../core/errors.ts";
import {
  type ConditionalMethod,
  evaluatePreconditions,
  parseHttpDate,
  parsePreconditions,
  parseTagList,
  type Preconditions,
  rangeApplies,
  strongMatch,
  type Validators,
  weakMatch,
} from "../../plugins/storage/conditions.ts";

const current: Validators = {
  etag: '"abc"',
  lastModified: new Date("2024-05-01T12:00:00.400Z"),
};
const earlier = new Date("2024-05-01T11:59:59Z");
const sameSecond = new Date("2024-05-01T12:00:00Z");

function evaluate(conditions: Preconditions, method: ConditionalMethod, at = current) {
  return evaluatePreconditions(at, conditions, method);
}

function refused(fn: () => unknown, field: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EdgeboxError);
    assert.equal(error.code, "storage.condition_invalid");
    assert.equal(error.field, field);
    return true;
  });
}

// --- Parsing ---------------------------------------------------------------------------------

Deno.test("a tag list is *, or entity tags separated by commas", () => {
  assert.equal(parseTagList(null, "header.if-match"), undefined);
  assert.equal(parseTagList(" * ", "header.if-match"), "*");
  assert.deepEqual(parseTagList('"a", W/"b",,"c"', "header.if-match"), ['"a"', 'W/"b"', '"c"']);
  assert.deepEqual(parseTagList('"with,comma"', "header.if-match"), ['"with,comma"']);
  assert.deepEqual(parseTagList('""', "header.if-match"), ['""']);
});

Deno.test("a malformed tag list is refused naming the header", () => {
  for (const bad of ["abc", '"a" "b"', '"unterminated', '*, "a"', "", ",", 'w/"a"', '"a b"']) {
    refused(() => parseTagList(bad, "header.if-none-match"), "header.if-none-match");
  }
});

Deno.test("every generated list of entity tags parses back to the same tags", () => {
  const etagc = fc.constantFrom(..."abcXYZ019!#$%&'()*+,-./:;<=>?@[]^_`{|}~");
  const tag = fc.tuple(fc.boolean(), fc.string({ unit: etagc, maxLength: 8 }))
    .map(([weak, text]) => `${weak ? "W/" : ""}"${text}"`);
  fc.assert(fc.property(fc.array(tag, { minLength: 1, maxLength: 5 }), (tags) => {
    assert.deepEqual(parseTagList(tags.join(" , "), "header.if-match"), tags);
  }));
});

Deno.test("the three HTTP date forms are read as UTC", () => {
  const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")?.getTime(), expected);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT")?.getTime(), expected);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994")?.getTime(), expected);
});

Deno.test("text that is not an HTTP date is not read as one", () => {
  for (const bad of ["2024", "yesterday", "Sun, 31 Feb 2024 00:00:00 GMT", "Sun, 06 Nov 1994"]) {
    assert.equal(parseHttpDate(bad), undefined, bad);
  }
});

Deno.test("every date written as IMF-fixdate reads back to the same second", () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date(0), max: new Date("9999-12-31"), noInvalidDate: true }),
      (d) => {
        assert.equal(
          parseHttpDate(d.toUTCString())?.getTime(),
          Math.floor(d.getTime() / 1000) * 1000,
        );
      },
    ),
  );
});

Deno.test("preconditions are read from a request's headers", () => {
  const headers = new Headers({
    "if-match": '"a"',
    "if-none-match": "*",
    "if-unmodified-since": "Sun, 06 Nov 1994 08:49:37 GMT",
    "if-modified-since": "Sun, 06 Nov 1994 08:49:37 GMT",
    "if-range": '"a"',
    "range": "bytes=0-1",
  });
  const parsed = parsePreconditions(headers, "GET");
  assert.deepEqual(parsed.ifMatch, ['"a"']);
  assert.equal(parsed.ifNoneMatch, "*");
  assert.deepEqual(parsed.ifRange, { etag: '"a"' });
  assert.ok(parsed.ifModifiedSince && parsed.ifUnmodifiedSince);
  assert.deepEqual(parsePreconditions(new Headers(), "PUT"), {});
});

Deno.test("a malformed date in a conditional header is refused, not ignored", () => {
  for (const name of ["if-modified-since", "if-unmodified-since", "if-range"]) {
    refused(
      () => parsePreconditions(new Headers({ [name]: "soon", range: "bytes=0-1" }), "GET"),
      `header.${name}`,
    );
  }
});

Deno.test("If-Modified-Since and If-Range on a write are refused: they mean nothing there", () => {
  const date = "Sun, 06 Nov 1994 08:49:37 GMT";
  for (const method of ["PUT", "DELETE", "COPY"] as const) {
    refused(
      () => parsePreconditions(new Headers({ "if-modified-since": date }), method),
      "header.if-modified-since",
    );
    refused(
      () => parsePreconditions(new Headers({ "if-range": '"a"' }), method),
      "header.if-range",
    );
  }
});

Deno.test("If-Range with a weak tag is refused; without a Range it is ignored", () => {
  refused(
    () => parsePreconditions(new Headers({ "if-range": 'W/"a"', range: "bytes=0-1" }), "GET"),
    "header.if-range",
  );
  assert.deepEqual(parsePreconditions(new Headers({ "if-range": '"a"' }), "GET"), {});
});

// --- Comparison ------------------------------------------------------------------------------

Deno.test("strong comparison needs two strong equal tags; weak comparison ignores W/", () => {
  assert.ok(strongMatch('"a"', '"a"'));
  assert.ok(!strongMatch('W/"a"', '"a"'));
  assert.ok(!strongMatch('W/"a"', 'W/"a"'));
  assert.ok(weakMatch('W/"a"', '"a"'));
  assert.ok(weakMatch('W/"a"', 'W/"a"'));
  assert.ok(!weakMatch('"a"', '"b"'));
});

// --- Evaluation (section 13.2.2) ---------------------------------------------------------------

Deno.test("If-Match holds for a listed strong tag or *, and fails otherwise", () => {
  assert.equal(evaluate({ ifMatch: ['"x"', '"abc"'] }, "PUT").kind, "proceed");
  assert.equal(evaluate({ ifMatch: "*" }, "PUT").kind, "proceed");
  assert.deepEqual(evaluate({ ifMatch: ['"x"'] }, "PUT"), {
    kind: "failed",
    field: "header.if-match",
  });
  // A weak tag never matches strongly.
  assert.equal(evaluate({ ifMatch: ['W/"abc"'] }, "DELETE").kind, "failed");
});

Deno.test("If-Match fails when there is no object, even with *", () => {
  for (const ifMatch of ["*", ['"abc"']] as const) {
    assert.deepEqual(evaluatePreconditions(undefined, { ifMatch }, "PUT"), {
      kind: "failed",
      field: "header.if-match",
    });
  }
});

Deno.test("If-Unmodified-Since fails once the object changed after it, at second resolution", () => {
  assert.deepEqual(evaluate({ ifUnmodifiedSince: earlier }, "PUT"), {
    kind: "failed",
    field: "header.if-unmodified-since",
  });
  assert.equal(evaluate({ ifUnmodifiedSince: sameSecond }, "PUT").kind, "proceed");
});

Deno.test("If-Unmodified-Since is ignored when If-Match is sent or there is no object", () => {
  assert.equal(evaluate({ ifMatch: ['"abc"'], ifUnmodifiedSince: earlier }, "PUT").kind, "proceed");
  assert.equal(
    evaluatePreconditions(undefined, { ifUnmodifiedSince: earlier }, "PUT").kind,
    "proceed",
  );
});

Deno.test("If-None-Match compares weakly: a match is 304 on reads and 412 on writes", () => {
  assert.equal(evaluate({ ifNoneMatch: ['W/"abc"'] }, "GET").kind, "not_modified");
  assert.equal(evaluate({ ifNoneMatch: "*" }, "HEAD").kind, "not_modified");
  assert.deepEqual(evaluate({ ifNoneMatch: ['"abc"'] }, "PUT"), {
    kind: "failed",
    field: "header.if-none-match",
  });
  assert.equal(evaluate({ ifNoneMatch: ['"other"'] }, "PUT").kind, "proceed");
  assert.equal(evaluatePreconditions(undefined, { ifNoneMatch: "*" }, "PUT").kind, "proceed");
});

Deno.test("If-Modified-Since applies to reads only, and If-None-Match overrides it", () => {
  assert.equal(evaluate({ ifModifiedSince: sameSecond }, "GET").kind, "not_modified");
  assert.equal(evaluate({ ifModifiedSince: earlier }, "GET").kind, "proceed");
  assert.equal(
    evaluate({ ifNoneMatch: ['"other"'], ifModifiedSince: sameSecond }, "GET").kind,
    "proceed",
  );
});

Deno.test("a failed If-Match decides before a matching If-None-Match (412, not 304)", () => {
  assert.deepEqual(evaluate({ ifMatch: ['"x"'], ifNoneMatch: ['"abc"'] }, "GET"), {
    kind: "failed",
    field: "header.if-match",
  });
});

Deno.test("If-Range holds for the same strong tag or exactly the Last-Modified second", () => {
  assert.ok(rangeApplies(current, undefined));
  assert.ok(rangeApplies(current, { etag: '"abc"' }));
  assert.ok(!rangeApplies(current, { etag: '"x"' }));
  assert.ok(rangeApplies(current, { date: sameSecond }));
  assert.ok(!rangeApplies(current, { date: earlier }));
});

Deno.test("a write's outcome never depends on If-Modified-Since or If-Range", () => {
  const tags = fc.constantFrom('"abc"', 'W/"abc"', '"x"');
  const list = fc.oneof(fc.constant("*" as const), fc.array(tags, { minLength: 1, maxLength: 3 }));
  const date = fc.constantFrom(earlier, sameSecond);
  fc.assert(
    fc.property(
      fc.record({ ifMatch: list, ifNoneMatch: list, ifUnmodifiedSince: date }, {
        requiredKeys: [],
      }),
      fc.boolean(),
      date,
      (conditions, exists, modified) => {
        const at = exists ? current : undefined;
        const plain = evaluatePreconditions(at, conditions, "PUT");
        const extra = evaluatePreconditions(
          at,
          { ...conditions, ifModifiedSince: modified, ifRange: { etag: '"x"' } },
          "PUT",
        );
        assert.deepEqual(extra, plain);
        assert.notEqual(plain.kind, "not_modified");
      },
    ),
  );
});
