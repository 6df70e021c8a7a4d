import assert from "node:assert/strict";
import { EdgeboxError } from "../../core/errors.ts";
import { requestPath, unservedMethod } from "../../core/request_target.ts";

function refusal(url: string): string | undefined {
  try {
    requestPath(url);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof EdgeboxError);
    assert.equal(error.field, "path");
    return error.code;
  }
}

Deno.test("a request path is decoded once, as the router decodes it", () => {
  assert.equal(requestPath("http://h/v1/cache/keys/a%20b?x=1#f"), "/v1/cache/keys/a b");
  assert.equal(requestPath("http://h/v1/storage/objects/%E6%97%A5"), "/v1/storage/objects/日");
  // Reserved escapes stay encoded so a parameter decodes exactly once downstream.
  assert.equal(requestPath("http://h/a%2Fb"), "/a%2Fb");
  assert.equal(requestPath("http://h/a%252Fb"), "/a%252Fb");
  assert.equal(requestPath("http://h/a?b=../c"), "/a");
});

Deno.test("the path of an absolute-form target is its own path, whatever the authority", () => {
  assert.equal(requestPath("http://evil.example/v1/echo"), "/v1/echo");
  assert.equal(requestPath("http://h:80"), "/");
});

Deno.test("dot segments are refused in every spelling", () => {
  for (
    const path of [
      "/v1/echo/../cache",
      "/v1/echo/%2e%2e/cache",
      "/v1/echo/%2E%2e/cache",
      "/v1/echo/.%2E/cache",
      "/v1/./cache",
      "/v1/%2e/cache",
      "/v1/echo/..",
      "/v1/echo%2f..%2fcache",
      "/v1/echo%5C..%5Ccache",
      "/v1/storage/objects/a/%2e/b",
    ]
  ) {
    assert.equal(refusal(`http://h${path}`), "core.path_invalid", path);
  }
});

Deno.test("backslashes, controls and malformed or non-UTF-8 escapes are refused", () => {
  for (const path of ["/a\\b", "/a\tb", "/a%zz", "/a%", "/a%ff", "/a%c3%28"]) {
    assert.equal(refusal(`http://h${path}`), "core.path_invalid", path);
  }
});

Deno.test("names that merely contain dots are ordinary segments", () => {
  assert.equal(
    requestPath("http://h/v1/storage/objects/.hidden/a..b/..."),
    "/v1/storage/objects/.hidden/a..b/...",
  );
});

Deno.test("only the standard methods are served; others are 501 with Allow", () => {
  for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    assert.equal(unservedMethod(method), undefined);
  }
  for (const method of ["TRACE", "TRACK", "CONNECT", "get", "PROPFIND"]) {
    const error = unservedMethod(method);
    assert.equal(error?.code, "core.method_not_implemented", method);
    assert.equal(error?.status, 501);
    assert.match(error?.headers.Allow ?? "", /GET/);
  }
});
