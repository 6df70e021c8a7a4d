/** Secrets are hidden before config is shown in `GET /plugins` or in logs. */
import assert from "node:assert/strict";
import { redact, REDACTED } from "../../core/redact.ts";

Deno.test("fields named like secrets are replaced with [redacted]", () => {
  const shown = redact({
    password: "p",
    passwd: "p",
    secret: "s",
    token: "t",
    credentials: "c",
    credential: "c",
    apiKey: "k",
    privateKey: "k",
    key: "k",
  });
  for (const [field, value] of Object.entries(shown as Record<string, unknown>)) {
    assert.equal(value, REDACTED, `${field} should be redacted`);
  }
});

Deno.test("secret names are matched case-insensitively and as suffixes", () => {
  assert.deepEqual(redact({ PASSWORD: "p", clientSecret: "s", accessToken: "t", ApiKey: "k" }), {
    PASSWORD: REDACTED,
    clientSecret: REDACTED,
    accessToken: REDACTED,
    ApiKey: REDACTED,
  });
});

Deno.test("fields that merely contain a secret word are shown", () => {
  const fields = { keys: 3, keyPrefix: "app:", monkey: "m", cacheKey: "k", tokenizer: "ws" };
  assert.deepEqual(redact(fields), fields);
});

Deno.test("a secret field holding an object is hidden whole", () => {
  assert.deepEqual(redact({ credentials: { user: "u", pass: "p" } }), { credentials: REDACTED });
});

Deno.test("secrets nested in objects and arrays are found", () => {
  const auth = { keys: [{ name: "ci", key: "0123456789abcdef", scopes: ["*"] }] };
  assert.deepEqual(redact({ auth }), {
    auth: { keys: [{ name: "ci", key: REDACTED, scopes: ["*"] }] },
  });
});

Deno.test("an empty or absent secret is shown as such, so unset can be told from set", () => {
  assert.deepEqual(redact({ password: "", token: null }), { password: "", token: null });
});

Deno.test("the password in a URL is hidden and the rest of the URL kept", () => {
  assert.deepEqual(redact({ url: "redis://app:hunter2@cache.internal:6379/0" }), {
    url: "redis://app:redacted@cache.internal:6379/0",
  });
});

Deno.test("a URL with a user but no password is shown unchanged", () => {
  assert.deepEqual(redact({ url: "nats://app@nats.internal:4222" }), {
    url: "nats://app@nats.internal:4222",
  });
});

Deno.test("a URL password inside an array is hidden", () => {
  assert.deepEqual(redact({ servers: ["nats://u:p@a:4222", "nats://b:4222"] }), {
    servers: ["nats://u:redacted@a:4222", "nats://b:4222"],
  });
});

Deno.test("text that only looks like a URL with credentials is returned unchanged", () => {
  assert.equal(redact("x://a:b@["), "x://a:b@[");
});

Deno.test("numbers, booleans and null pass through", () => {
  assert.deepEqual(redact({ port: 8080, tls: true, proxy: null }), {
    port: 8080,
    tls: true,
    proxy: null,
  });
});

Deno.test("redact returns a copy and leaves its input untouched", () => {
  const input = { auth: { keys: [{ name: "ci", key: "0123456789abcdef" }] }, url: "redis://u:p@h" };
  const before = structuredClone(input);
  const shown = redact(input);
  assert.deepEqual(input, before);
  assert.notEqual(shown, input);
});
