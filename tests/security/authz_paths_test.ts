/**
 * Broken object and function level authorization (OWASP API1/API5 2023): with a key scoped to
 * one instance, no spelling of a path, method or body framing reaches another instance's
 * handler, and no state changes behind the key's back. Requests cross a real socket byte for
 * byte (`_raw_http.ts`), because `fetch` would normalise exactly the targets under test.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SANITIZED } from "../_helpers.ts";
import { type ServedEdgebox, serveEdgebox } from "./_edgebox.ts";
import { runs } from "./_fc.ts";
import { rawRequest } from "./_raw_http.ts";

/** A request that would change another instance's state, were it let through. */
interface Attack {
  method: string;
  /** Path under `/v1/<instance>`. */
  suffix: string;
  contentType: string;
  body: string;
}

const ATTACKS: Record<string, Attack[]> = {
  cache: [
    { method: "PUT", suffix: "/keys/pwned", contentType: "text/plain", body: "x" },
    { method: "DELETE", suffix: "/keys/keep", contentType: "text/plain", body: "" },
  ],
  graph: [
    {
      method: "PUT",
      suffix: "/nodes/Pwned/pwned",
      contentType: "application/json",
      body: '{"name":"x"}',
    },
    { method: "DELETE", suffix: "/nodes/Feature/keep", contentType: "text/plain", body: "" },
  ],
  messaging: [
    { method: "POST", suffix: "/publish/events.pwned", contentType: "text/plain", body: "x" },
    { method: "DELETE", suffix: "/streams/events", contentType: "text/plain", body: "" },
  ],
  storage: [
    { method: "PUT", suffix: "/objects/pwned", contentType: "text/plain", body: "x" },
    { method: "DELETE", suffix: "/objects/keep", contentType: "text/plain", body: "" },
  ],
};

const dotdot = fc.constantFrom("..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%2E.", ".%2E");
const dot = fc.constantFrom(".", "%2e", "%2E");
const separator = fc.constantFrom("/", "%2f", "%2F", "\\", "%5c", "%5C");

/** Targets that resolve, under some URL parser, from `/v1/echo` to `/v1/<victim><suffix>`. */
function traversal(victim: string, suffix: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(dotdot, separator).map(([up, sep]) => `/v1/echo${sep}${up}${sep}${victim}${suffix}`),
    fc.tuple(dotdot, dot, separator).map(([up, here, sep]) =>
      `/v1/echo/${here}${sep}${up}/${victim}${suffix}`
    ),
    fc.tuple(dotdot, dotdot).map(([a, b]) => `/v1/echo/x/${a}/${b}/v1/${victim}${suffix}`),
    dot.map((here) => `/v1/${here}/${victim}${suffix}`),
    fc.tuple(dotdot, separator).map(([up, sep]) =>
      `/v1/${victim}${suffix}${sep}${up}${sep}${up}/echo`
    ),
    fc.constant(`/v1/${victim}${suffix}`),
    fc.constant(`//v1/${victim}${suffix}`),
  );
}

const methods = (attack: Attack) =>
  fc.constantFrom(attack.method, attack.method.toLowerCase(), "PATCH", "TRACE", "TRACK", "POST");
const framing = fc.constantFrom("length", "chunked", "none") as fc.Arbitrary<
  "length" | "chunked" | "none"
>;

/** What must never change, read with the admin key. */
async function snapshot(edgebox: ServedEdgebox): Promise<string> {
  const read = async (path: string) => {
    const response = await edgebox.admin(path);
    const body = await response.text();
    return `${path} ${response.status} ${response.status === 200 ? body : ""}`;
  };
  const stream = await edgebox.admin("/v1/messaging/streams/events");
  const streamState = stream.status === 200 ? (await stream.json()).state ?? {} : "gone";
  if (stream.status !== 200) await stream.body?.cancel();
  return [
    await read("/v1/cache/keys/keep"),
    await read("/v1/cache/keys/pwned"),
    await read("/v1/graph/nodes/Feature/keep"),
    await read("/v1/graph/nodes/Pwned/pwned"),
    await read("/v1/storage/objects/keep"),
    await read("/v1/storage/objects/pwned"),
    `stream ${JSON.stringify(streamState)}`,
  ].join("\n");
}

async function seed(edgebox: ServedEdgebox): Promise<void> {
  const writes: [string, RequestInit][] = [
    ["/v1/cache/keys/keep", { method: "PUT", body: "kept" }],
    ["/v1/graph/nodes/Feature/keep", {
      method: "PUT",
      body: "{}",
      headers: { "content-type": "application/json" },
    }],
    ["/v1/storage/objects/keep", { method: "PUT", body: "kept" }],
    ["/v1/messaging/publish/events.seed", { method: "POST", body: "seed" }],
  ];
  for (const [path, init] of writes) {
    const response = await edgebox.admin(path, init);
    await response.body?.cancel();
    assert.ok(response.ok, `seeding ${path}: ${response.status}`);
  }
}

Deno.test(
  "a key scoped to one instance reaches no other instance's handler, whatever the path spelling, method or framing",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox();
    await seed(edgebox);
    const before = await snapshot(edgebox);
    const victims = Object.keys(ATTACKS);
    const attack = fc.constantFrom(...victims).chain((victim) =>
      fc.constantFrom(...ATTACKS[victim]!).chain((a) =>
        fc.record({
          attack: fc.constant(a),
          target: traversal(victim, a.suffix),
          method: methods(a),
          framing,
        })
      )
    );
    await fc.assert(
      fc.asyncProperty(attack, async ({ attack, target, method, framing }) => {
        const response = await rawRequest(edgebox.port, {
          method,
          target,
          framing,
          headers: {
            authorization: `Bearer ${edgebox.scopedKeys.echo}`,
            "content-type": attack.contentType,
          },
          ...(framing === "none" ? {} : { body: attack.body }),
        });
        const where = `${method} ${target} (${framing}) -> ${response.status} ${response.body}`;
        assert.ok(
          [400, 401, 403, 404, 405, 501].includes(response.status),
          `refused with a client error: ${where}`,
        );
        assert.match(response.headers.get("content-type") ?? "", /application\/problem\+json/);
      }),
      runs(250),
    );
    assert.equal(await snapshot(edgebox), before, "no state changed behind the scoped key");
  },
);

Deno.test(
  "a dot segment inside one instance's path is refused, so it cannot address another object",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox();
    await (await edgebox.admin("/v1/storage/objects/a/b", { method: "PUT", body: "b" })).text();
    const spellings = ["a/%2e/b", "a/./b", "a/x/../b", "a/x/%2E%2E/b", "a%2f.%2fb", "a/x/.%2e/b"];
    for (const key of spellings) {
      const response = await rawRequest(edgebox.port, {
        method: "DELETE",
        target: `/v1/storage/objects/${key}`,
        headers: { authorization: `Bearer ${edgebox.scopedKeys.storage}` },
      });
      assert.equal(response.status, 400, `DELETE ${key}: ${response.body}`);
      assert.equal(JSON.parse(response.body).code, "core.path_invalid");
    }
    const kept = await edgebox.admin("/v1/storage/objects/a/b");
    assert.equal(await kept.text(), "b");
  },
);

Deno.test(
  "a chunked body cannot carry more than the body limit of the instance its path names",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox({ server: { bodyLimit: "1KiB" } });
    const response = await rawRequest(edgebox.port, {
      method: "POST",
      target: "/v1/echo/messages",
      framing: "chunked",
      headers: {
        authorization: `Bearer ${edgebox.scopedKeys.echo}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ message: "x".repeat(4096) }),
    });
    assert.equal(response.status, 413);
    assert.equal(JSON.parse(response.body).code, "core.body_too_large");
  },
);

Deno.test(
  "methods edgebox does not serve answer 501 problem+json, never 500",
  SANITIZED,
  async () => {
    await using edgebox = await serveEdgebox();
    const requests = [
      ["CONNECT", "127.0.0.1:1"], // authority-form: the only form HTTP allows for CONNECT
      ...["TRACE", "TRACK", "get", "trace", "PROPFIND", "BREW"].flatMap((method) =>
        ["/v1/echo", "/v1/cache/keys/a", "/health", "/nope"].map((target) => [method, target])
      ),
    ] as const;
    {
      for (const [method, target] of requests) {
        const response = await rawRequest(edgebox.port, {
          method,
          target,
          headers: { authorization: `Bearer ${edgebox.adminKey}` },
        });
        assert.equal(response.status, 501, `${method} ${target}: ${response.body}`);
        assert.equal(JSON.parse(response.body).code, "core.method_not_implemented");
      }
    }
  },
);
