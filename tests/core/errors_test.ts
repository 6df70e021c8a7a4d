/** Specification of `core/errors.ts`: the problem+json every failure turns into. */
import assert from "node:assert/strict";
import {
  coreError,
  coreErrors,
  EdgeboxError,
  errorFactory,
  problemResponse,
  toProblem,
} from "../../core/errors.ts";
import { SANITIZED } from "../_helpers.ts";

Deno.test("a problem response has content type application/problem+json", SANITIZED, () => {
  const response = problemResponse(coreError("core.not_found"));

  assert.equal(response.headers.get("content-type"), "application/problem+json");
});

Deno.test("a problem response has the status of its error's table row", SANITIZED, () => {
  for (const [code, spec] of Object.entries(coreErrors)) {
    const response = problemResponse(coreError(code as keyof typeof coreErrors));
    assert.equal(response.status, spec.status, code);
  }
});

Deno.test(
  "a problem document carries type, title, status, detail and the stable code",
  SANITIZED,
  async () => {
    const error = coreError("core.forbidden", { detail: "API key lacks a scope" });

    const body = await problemResponse(error).json();

    assert.equal(body.code, "core.forbidden");
    assert.equal(body.status, 403);
    assert.equal(body.title, coreErrors["core.forbidden"].title);
    assert.equal(body.detail, "API key lacks a scope");
    assert.equal(typeof body.type, "string");
    assert.match(body.type, /core\.forbidden$/);
  },
);

Deno.test("a problem without a detail uses its title as detail", SANITIZED, () => {
  const problem = toProblem(coreError("core.internal"));

  assert.equal(problem.detail, coreErrors["core.internal"].title);
});

Deno.test(
  "a problem response carries the request id in the body and X-Request-Id",
  SANITIZED,
  async () => {
    const response = problemResponse(coreError("core.not_found"), { requestId: "req-42" });

    assert.equal(response.headers.get("x-request-id"), "req-42");
    assert.equal((await response.json()).requestId, "req-42");
  },
);

Deno.test("a problem names the request field at fault", SANITIZED, () => {
  const problem = toProblem(coreError("core.validation_failed", { field: "body.items.0.key" }));

  assert.equal(problem.field, "body.items.0.key");
});

Deno.test("a problem leaves out requestId, field and instance when it has none", SANITIZED, () => {
  const problem = toProblem(coreError("core.not_found"));

  assert.equal("requestId" in problem, false);
  assert.equal("field" in problem, false);
  assert.equal("instance" in problem, false);
});

Deno.test("a problem carries the instance (the request path) it is given", SANITIZED, () => {
  const problem = toProblem(coreError("core.not_found"), { instance: "/v1/cache/keys/a" });

  assert.equal(problem.instance, "/v1/cache/keys/a");
});

Deno.test("an error's headers reach the response, Retry-After included", SANITIZED, () => {
  const error = coreError("core.plugin_unavailable", { headers: { "Retry-After": "7" } });

  const response = problemResponse(error);

  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "7");
});

Deno.test("an error's own headers cannot replace the problem content type", SANITIZED, () => {
  const error = coreError("core.bad_request", { headers: { "Content-Type": "text/html" } });

  assert.equal(problemResponse(error).headers.get("content-type"), "application/problem+json");
});

Deno.test("extra members join the problem document", SANITIZED, () => {
  const problem = toProblem(coreError("core.body_too_large", { extra: { limit: 1024 } }));

  assert.equal(problem.limit, 1024);
});

Deno.test("extra members cannot overwrite code, status or type", SANITIZED, () => {
  const error = coreError("core.forbidden", {
    extra: { code: "core.ok", status: 200, type: "about:blank", title: "Fine" },
  });

  const problem = toProblem(error);

  assert.equal(problem.code, "core.forbidden");
  assert.equal(problem.status, 403);
  assert.match(problem.type, /core\.forbidden$/);
  assert.equal(problem.title, coreErrors["core.forbidden"].title);
});

Deno.test("an error's cause is kept for logs and never sent to clients", SANITIZED, async () => {
  const cause = new Error("password=hunter2 at db.connect");
  const error = coreError("core.internal", { cause });

  const text = await problemResponse(error).text();

  assert.equal(error.cause, cause);
  assert.doesNotMatch(text, /hunter2/);
  assert.equal("cause" in JSON.parse(text), false);
});

Deno.test("a plugin's error table builds errors with its own codes and statuses", SANITIZED, () => {
  const cacheError = errorFactory({
    "cache.key_invalid": { status: 400, title: "Key is invalid" },
    "cache.backend_down": { status: 503, title: "Cache backend is down" },
  });

  const error = cacheError("cache.key_invalid", { field: "path.key" });

  assert.ok(error instanceof EdgeboxError);
  assert.equal(error.code, "cache.key_invalid");
  assert.equal(error.status, 400);
  assert.equal(toProblem(error).field, "path.key");
});

Deno.test(
  "every core code is named core.<reason> and maps to a 4xx or 5xx status",
  SANITIZED,
  () => {
    for (const [code, spec] of Object.entries(coreErrors)) {
      assert.match(code, /^core\.[a-z_]+$/);
      assert.ok(spec.status >= 400 && spec.status < 600, code);
    }
  },
);
