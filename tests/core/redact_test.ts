/** Secrets are hidden before anything is shown: `/plugins`, `/ready`, problem details, logs, spans. */
import assert from "node:assert/strict";
import {
  MIN_SECRET_LENGTH,
  redact,
  REDACTED,
  redactText,
  rememberSecrets,
  secretsIn,
} from "../../core/redact.ts";

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

Deno.test("a URL's lone userinfo is a token and hidden whole", () => {
  assert.deepEqual(redact({ url: "nats://s3cr3t-token@nats.internal:4222" }), {
    url: "nats://redacted@nats.internal:4222",
  });
});

Deno.test("a URL password inside an array is hidden", () => {
  assert.deepEqual(redact({ servers: ["nats://u:p@a:4222", "nats://b:4222"] }), {
    servers: ["nats://u:redacted@a:4222", "nats://b:4222"],
  });
});

Deno.test("text that only looks like a URL with credentials is hidden all the same", () => {
  assert.equal(redact("x://a:b@["), "x://a:redacted@[");
});

Deno.test("numbers, booleans and null pass through", () => {
  assert.deepEqual(redact({ port: 8080, tls: true, proxy: null }), {
    port: 8080,
    tls: true,
    proxy: null,
  });
});

Deno.test("redact copies what it changes and leaves its input untouched", () => {
  const input = { auth: { keys: [{ name: "ci", key: "0123456789abcdef" }] }, url: "redis://u:p@h" };
  const before = structuredClone(input);
  const shown = redact(input);
  assert.deepEqual(input, before);
  assert.notEqual(shown, input);
});

Deno.test("a value with nothing to hide is returned as it is", () => {
  const fields = { plugin: "cache", attempt: 2, nested: { ok: true, list: ["a", 1] } };
  assert.equal(redact(fields), fields);
});

Deno.test("every server of a comma-separated URL list has its userinfo hidden", () => {
  assert.equal(
    redactText("nats://u:p1@a:4222,nats://v:p2@b:4222"),
    "nats://u:redacted@a:4222,nats://v:redacted@b:4222",
  );
  assert.equal(
    redactText("nats://u:p1@a:4222,v:p2@b:4222,c:4222"),
    "nats://u:redacted@a:4222,v:redacted@b:4222,c:4222",
  );
  assert.equal(
    redactText("nats://t0ken@a:4222,nats://b:4222"),
    "nats://redacted@a:4222,nats://b:4222",
  );
});

Deno.test("a password holding @ or , is hidden up to the last @ of the authority", () => {
  assert.equal(redactText("redis://app:p@ss,w0rd@host:6379/0"), "redis://redacted@host:6379/0");
  assert.equal(redactText("bolt://neo4j:a@b@graph:7687"), "bolt://neo4j:redacted@graph:7687");
});

Deno.test("a URL inside a longer message has its userinfo hidden", () => {
  assert.equal(
    redactText("Cannot connect to NATS at nats://u:hunter2@10.0.0.1:4222: connect ECONNREFUSED"),
    "Cannot connect to NATS at nats://u:redacted@10.0.0.1:4222: connect ECONNREFUSED",
  );
  assert.equal(
    redactText('{"url":"redis://:pw1234@cache:6379"}'),
    '{"url":"redis://:redacted@cache:6379"}',
  );
});

Deno.test("secret query parameters are hidden and the others kept", () => {
  assert.equal(
    redactText(
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=0a1b&X-Amz-Security-Token=zz&x=1",
    ),
    "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=redacted&X-Amz-Signature=redacted&X-Amz-Security-Token=redacted&x=1",
  );
  assert.equal(
    redactText("https://h/cb?access_token=abc&password=p&sig=s&page=2"),
    "https://h/cb?access_token=redacted&password=redacted&sig=redacted&page=2",
  );
});

Deno.test("secret name=value pairs and quoted members in free text are hidden", () => {
  assert.equal(
    redactText("login failed: user=bob password=hunter2"),
    "login failed: user=bob password=redacted",
  );
  assert.equal(
    redactText('rejected {"user":"bob","password":"hun\\"ter2"}'),
    `rejected {"user":"bob","password":"${REDACTED}"}`,
  );
});

Deno.test("bearer tokens and Authorization header values are hidden", () => {
  assert.equal(redactText("sent Bearer eyJhbGciOi.x.y"), "sent Bearer redacted");
  assert.equal(redactText("Authorization: Basic dXNlcjpwYXNz"), `Authorization: ${REDACTED}`);
});

Deno.test("text without secrets is returned as it was", () => {
  for (
    const text of [
      'Plugin "cache" is degraded',
      "http://[::1]:8080/v1/cache/keys/a",
      "tokenizer=ws keys=3",
      "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
    ]
  ) {
    assert.equal(redactText(text), text);
  }
});

Deno.test("redacting twice changes nothing more", () => {
  const text = "nats://u:p@a,t0k@b:1 password=x Bearer y Authorization: z";
  const once = redactText(text);
  assert.equal(redactText(once), once);
});

Deno.test("more secret field names are recognised", () => {
  const shown = redact({
    secretAccessKey: "s",
    "x-api-key": "k",
    authorization: "Bearer t",
    proxy_authorization: "Basic b",
    cookie: "c",
    sessionToken: "t",
    ackSecret: "a",
    pass: "p",
  }) as Record<string, unknown>;
  for (const [field, value] of Object.entries(shown)) {
    assert.equal(value, REDACTED, `${field} should be redacted`);
  }
});

Deno.test("an error is shown as its name, code and redacted message", () => {
  const error = Object.assign(new Error("Cannot reach nats://u:pw@h:1"), { code: "E_X" });
  assert.deepEqual(redact({ error }), {
    error: { name: "Error", message: "Cannot reach nats://u:redacted@h:1", code: "E_X" },
  });
});

Deno.test("dates are shown as JSON shows them", () => {
  assert.deepEqual(redact({ at: new Date(0) }), { at: "1970-01-01T00:00:00.000Z" });
});

Deno.test("a config's secrets are its secret fields, URL passwords, tokens and secret parameters", () => {
  const secrets = secretsIn({
    plugins: [
      { config: { url: "nats://u:p%40ss1@a:4222,nats://t0ken1@b:4222", token: "t0ken2" } },
      { config: { url: "redis://:pw-redis@cache:6379" } },
      { config: { endpoint: "https://h/?X-Amz-Signature=sig1" } },
      { config: { headers: { authorization: "Bearer abc123" } } },
    ],
    auth: { keys: [{ name: "ci", key: "0123456789abcdef" }] },
  });
  for (
    const secret of [
      "p%40ss1",
      "t0ken1",
      "t0ken2",
      "pw-redis",
      "sig1",
      "abc123",
      "0123456789abcdef",
    ]
  ) {
    assert.ok(secrets.includes(secret), `${secret} should be found in ${JSON.stringify(secrets)}`);
  }
  assert.ok(!secrets.includes("u") && !secrets.includes("ci"));
});

Deno.test("remembered secrets are scrubbed from any text, in every spelling", () => {
  using _known = rememberSecrets({ password: 'p@ss "w/rd"' });
  const raw = 'p@ss "w/rd"';
  for (
    const spelled of [raw, encodeURIComponent(raw), JSON.stringify(raw).slice(1, -1)]
  ) {
    assert.equal(redactText(`server said: ${spelled}!`), `server said: ${REDACTED}!`);
  }
  assert.deepEqual(redact({ note: `echo ${raw}` }), { note: `echo ${REDACTED}` });
});

Deno.test("a URL-encoded password from config is scrubbed decoded too", () => {
  using _known = rememberSecrets({ url: "redis://app:p%40ss%2Cword@cache:6379" });
  assert.equal(redactText("AUTH failed for p@ss,word"), `AUTH failed for ${REDACTED}`);
});

Deno.test("secrets shorter than the minimum length are not scrubbed from free text", () => {
  const short = "x".repeat(MIN_SECRET_LENGTH - 1);
  using _known = rememberSecrets({ password: short, url: `nats://u:${short}@h:1` });
  assert.equal(redactText(`box ${short}`), `box ${short}`);
  assert.equal(redactText(`nats://u:${short}@h:1`), "nats://u:redacted@h:1");
});

Deno.test("secrets are forgotten once their handle is disposed, and not before", () => {
  const first = rememberSecrets({ token: "shared-secret" });
  const second = rememberSecrets({ token: "shared-secret" });
  first[Symbol.dispose]();
  assert.equal(redactText("shared-secret"), REDACTED);
  second[Symbol.dispose]();
  assert.equal(redactText("shared-secret"), "shared-secret");
});

Deno.test("the longest remembered secret wins where two overlap", () => {
  using _known = rememberSecrets({ a: { password: "abcd" }, b: { password: "abcdefgh" } });
  assert.equal(redactText("abcdefgh"), REDACTED);
});

Deno.test("a password holding quotes is hidden whole, in a URL or a pair", () => {
  assert.equal(redactText(`redis://app:q"uo'te@cache:6379`), "redis://app:redacted@cache:6379");
  assert.equal(redactText(`password="two words" next`), "password=redacted next");
});
