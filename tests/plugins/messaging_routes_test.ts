/**
 * Specification of the messaging plugin's HTTP API, through the whole app (routing, validation,
 * body limits, the availability gate) on the embedded broker: publishing, subject rules, payload
 * limits, server-sent events, fetch/ack with opaque tokens, payload encodings, stream and consumer
 * management, request/reply, and the plugin's metrics.
 */
import assert from "node:assert/strict";
import type { Labels, Metrics } from "../../core/metrics.ts";
import type { PluginDefinition, PluginRegistry } from "../../core/plugin.ts";
import type { MessagingDriver } from "../../plugins/messaging/driver.ts";
import { MemoryMessaging } from "../../plugins/messaging/memory.ts";
import { meteredDriver } from "../../plugins/messaging/metered.ts";
import { messagingPlugin } from "../../plugins/messaging/mod.ts";
import {
  configYaml,
  openApp,
  problemOf,
  type RunningApp,
  SANITIZED,
  waitFor,
} from "../_helpers.ts";

const registry: PluginRegistry = new Map([
  ["messaging", messagingPlugin as unknown as PluginDefinition],
]);

const ORDERS = { name: "orders", subjects: ["orders.>"], storage: "memory" };
const encoder = new TextEncoder();

function open(block: Record<string, unknown> = {}): Promise<RunningApp> {
  return openApp(configYaml({ messaging: { streams: [ORDERS], ...block } }), registry);
}

function exportsOf(running: RunningApp): MessagingDriver {
  return running.lifecycle.get("messaging")!.instance.exports as MessagingDriver;
}

async function publish(
  running: RunningApp,
  subject: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await running.request(`/v1/messaging/publish/${subject}`, {
    method: "POST",
    body,
    headers,
  });
}

async function putJson(running: RunningApp, path: string, body: unknown): Promise<Response> {
  return await running.request(path, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function postJson(running: RunningApp, path: string, body: unknown): Promise<Response> {
  return await running.request(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

interface SseEvent {
  event?: string;
  id?: string;
  data: string;
}

/** Reads server-sent events from a response body until `count` arrived. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<SseEvent[]> {
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = "";
  while (events.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(":")) continue; // keep-alive comment
      const event: SseEvent = { data: "" };
      for (const line of block.split("\n")) {
        const [field, ...rest] = line.split(": ");
        const value = rest.join(": ");
        if (field === "event") event.event = value;
        else if (field === "id") event.id = value;
        else if (field === "data") event.data += value;
      }
      events.push(event);
    }
  }
  return events;
}

async function setUpConsumer(running: RunningApp, body: Record<string, unknown> = {}) {
  const response = await putJson(running, "/v1/messaging/consumers/orders/worker", body);
  assert.equal(response.status, 201);
  await response.body?.cancel();
}

async function fetchMessages(
  running: RunningApp,
  query = "batch=10&wait=0",
): Promise<Array<Record<string, unknown>>> {
  const response = await running.request(
    `/v1/messaging/consumers/orders/worker/fetch?${query}`,
    { method: "POST" },
  );
  assert.equal(response.status, 200);
  return (await response.json()).messages;
}

// --- publishing ---

Deno.test(
  "a publish answers the stream, the sequence and whether it was a duplicate",
  SANITIZED,
  async () => {
    await using running = await open();
    const first = await publish(running, "orders.created", "one");
    assert.equal(first.status, 200);
    // Without an Idempotency-Key, edgebox draws the message id and says which.
    const { msgId: firstId, ...firstAck } = await first.json();
    assert.deepEqual(firstAck, { stream: "orders", seq: 1, duplicate: false });
    const second = await publish(running, "orders.created", "two");
    const { msgId: secondId, ...secondAck } = await second.json();
    assert.deepEqual(secondAck, { stream: "orders", seq: 2, duplicate: false });
    assert.match(firstId, /^[0-9a-f-]{36}$/);
    assert.notEqual(firstId, secondId);
  },
);

Deno.test("a publish retried with the same Idempotency-Key is a duplicate", SANITIZED, async () => {
  await using running = await open();
  const headers = { "idempotency-key": "order-42" };
  assert.deepEqual(await (await publish(running, "orders.created", "x", headers)).json(), {
    stream: "orders",
    seq: 1,
    duplicate: false,
    msgId: "order-42",
  });
  assert.deepEqual(await (await publish(running, "orders.created", "x", headers)).json(), {
    stream: "orders",
    seq: 1,
    duplicate: true,
    msgId: "order-42",
  });
  const nats = await publish(running, "orders.created", "x", { "nats-msg-id": "order-42" });
  assert.equal((await nats.json()).duplicate, true);
});

Deno.test("an invalid subject is 400 naming path.subject", SANITIZED, async () => {
  await using running = await open();
  for (
    const subject of [
      "orders..created",
      "orders.*",
      "orders.>",
      "orders.a%20b",
      "$JS.API.INFO",
      "_INBOX.x",
      ".orders",
    ]
  ) {
    const response = await publish(running, subject, "x");
    assert.equal(response.status, 400, subject);
    const problem = await problemOf(response);
    assert.equal(problem.code, "messaging.subject_invalid", subject);
    assert.equal(problem.field, "path.subject");
  }
});

Deno.test("a publish to a subject no stream captures is 404", SANITIZED, async () => {
  await using running = await open();
  const response = await publish(running, "invoices.created", "x");
  assert.equal(response.status, 404);
  assert.equal((await problemOf(response)).code, "messaging.no_stream");
});

Deno.test("a payload over the configured limit is 413", SANITIZED, async () => {
  // The message id every publish carries (about 50 bytes as a header) counts too.
  await using running = await open({ maxPayload: 200 });
  const response = await publish(running, "orders.created", "x".repeat(201));
  assert.equal(response.status, 413);
  const problem = await problemOf(response);
  assert.equal(problem.code, "messaging.payload_too_large");
  assert.equal(problem.limit, 200);
  const ok = await publish(running, "orders.created", "x".repeat(30));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test(
  "a body over the plugin's body limit is refused before it is read",
  SANITIZED,
  async () => {
    await using running = await open({ maxPayload: 100 });
    const response = await publish(running, "orders.created", "x".repeat(70 * 1024));
    assert.equal(response.status, 413);
    await response.body?.cancel();
  },
);

Deno.test("too many Msg-* headers are 400", SANITIZED, async () => {
  await using running = await open({ maxHeaders: 2 });
  const response = await publish(running, "orders.created", "x", {
    "msg-a": "1",
    "msg-b": "2",
    "msg-c": "3",
  });
  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).code, "messaging.headers_invalid");
});

// --- fetch and ack ---

Deno.test("fetch and ack round-trip with opaque tokens", SANITIZED, async () => {
  await using running = await open();
  await setUpConsumer(running);
  for (const body of ["first", "second"]) {
    await (await publish(running, "orders.created", body)).body?.cancel();
  }
  const messages = await fetchMessages(running);
  assert.deepEqual(messages.map((m) => [m.seq, m.data, m.deliveries]), [
    [1, "first", 1],
    [2, "second", 1],
  ]);
  for (const m of messages) {
    const sealed = atob(String(m.token).split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"));
    assert.ok(!sealed.includes("orders"), "the token reveals nothing readable");
  }
  const ack = await postJson(
    running,
    "/v1/messaging/ack",
    messages.map((m) => ({ token: m.token })),
  );
  assert.equal(ack.status, 204);
  const again = await postJson(running, "/v1/messaging/ack", {
    token: messages[0]!.token,
    action: "ack",
  });
  assert.equal(again.status, 204, "acking twice is fine");
  const info = await (await running.request("/v1/messaging/consumers/orders/worker")).json();
  assert.equal(info.ackPending, 0);
  assert.equal(info.ackFloor, 2);
});

Deno.test("a nak'd message comes back on the next fetch", SANITIZED, async () => {
  await using running = await open();
  await setUpConsumer(running);
  await (await publish(running, "orders.created", "retry me")).body?.cancel();
  const [message] = await fetchMessages(running);
  const nak = await postJson(running, "/v1/messaging/ack", {
    token: message!.token,
    action: "nak",
  });
  assert.equal(nak.status, 204);
  const [again] = await fetchMessages(running);
  assert.equal(again?.seq, message!.seq);
  assert.equal(again?.deliveries, 2);
});

Deno.test("a token this instance did not issue is 400", SANITIZED, async () => {
  await using running = await open();
  const response = await postJson(running, "/v1/messaging/ack", {
    token: "v1.JEpTLkFDSy54.AAAAAAAAAAAAAAAAAAAAAA",
  });
  assert.equal(response.status, 400);
  const problem = await problemOf(response);
  assert.equal(problem.code, "messaging.token_invalid");
  assert.equal(problem.field, "body.token");
});

Deno.test("a bad token in an ack batch is 400 naming its entry", SANITIZED, async () => {
  await using running = await open();
  await setUpConsumer(running);
  await (await publish(running, "orders.created", "one")).body?.cancel();
  const [message] = await fetchMessages(running);
  const response = await postJson(running, "/v1/messaging/ack", [
    { token: message!.token },
    { token: "v1.JEpTLkFDSy54.AAAAAAAAAAAAAAAAAAAAAA" },
  ]);
  assert.equal(response.status, 400);
  const problem = await problemOf(response);
  assert.equal(problem.code, "messaging.token_invalid");
  assert.equal(problem.field, "body.1.token");
});

Deno.test("a token issued by another instance is 400", SANITIZED, async () => {
  await using running = await openApp(
    configYaml({
      messaging: { streams: [ORDERS] },
      other: { type: "messaging", streams: [ORDERS] },
    }),
    registry,
  );
  await setUpConsumer(running);
  await (await publish(running, "orders.created", "x")).body?.cancel();
  const [message] = await fetchMessages(running);
  const response = await postJson(running, "/v1/other/ack", { token: message!.token });
  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).code, "messaging.token_invalid");
});

Deno.test("a delay on anything but a nak is 400 naming body.delay", SANITIZED, async () => {
  await using running = await open();
  const response = await postJson(running, "/v1/messaging/ack", {
    token: "t",
    action: "ack",
    delay: "5s",
  });
  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).field, "body.delay");
});

Deno.test("a batch above maxBatch is 400 naming query.batch", SANITIZED, async () => {
  await using running = await open({ maxBatch: 5 });
  await setUpConsumer(running);
  const response = await running.request("/v1/messaging/consumers/orders/worker/fetch?batch=6", {
    method: "POST",
  });
  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).field, "query.batch");
});

Deno.test("a fetch from a missing consumer is 404", SANITIZED, async () => {
  await using running = await open();
  const response = await running.request("/v1/messaging/consumers/orders/nobody/fetch?wait=0", {
    method: "POST",
  });
  assert.equal(response.status, 404);
  assert.equal((await problemOf(response)).code, "messaging.consumer_not_found");
});

Deno.test(
  "payloads come back as utf8 text when they are, base64 otherwise",
  SANITIZED,
  async () => {
    await using running = await open();
    await setUpConsumer(running);
    await (await publish(running, "orders.text", "héllo ✓", { "content-type": "text/plain" })).body
      ?.cancel();
    await (await publish(running, "orders.bin", new Uint8Array([0xff, 0x00, 0xfe]))).body?.cancel();
    const [text, binary] = await fetchMessages(running);
    assert.equal(text?.encoding, "utf8");
    assert.equal(text?.data, "héllo ✓");
    assert.equal(binary?.encoding, "base64");
    assert.equal(binary?.data, "/wD+");
  },
);

Deno.test("the content type and Msg-* headers travel with the message", SANITIZED, async () => {
  await using running = await open();
  await setUpConsumer(running);
  await (await publish(running, "orders.created", "{}", {
    "content-type": "application/json",
    "msg-tenant-id": "acme",
  })).body?.cancel();
  const [message] = await fetchMessages(running);
  const headers = message?.headers as Record<string, string>;
  assert.equal(headers["Content-Type"], "application/json");
  assert.equal(headers["Tenant-Id"], "acme");
});

// --- server-sent events ---

Deno.test("a subscription streams messages as server-sent events", SANITIZED, async () => {
  await using running = await open();
  await (await publish(running, "orders.created", "earlier")).body?.cancel();
  const response = await running.request("/v1/messaging/subscribe/orders.>?deliver=all");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = response.body!.getReader();
  try {
    await (await publish(running, "orders.shipped", new Uint8Array([0xff]))).body?.cancel();
    const events = await readEvents(reader, 2);
    assert.deepEqual(events.map((e) => [e.event, e.id]), [["message", "1"], ["message", "2"]]);
    const first = JSON.parse(events[0]!.data);
    assert.equal(first.subject, "orders.created");
    assert.equal(first.seq, 1);
    assert.equal(first.data, "earlier");
    assert.equal(first.encoding, "utf8");
    assert.ok(!Number.isNaN(Date.parse(first.time)));
    assert.equal(JSON.parse(events[1]!.data).encoding, "base64");
  } finally {
    await reader.cancel();
  }
});

Deno.test("a subscription resumes after Last-Event-ID", SANITIZED, async () => {
  await using running = await open();
  for (const body of ["1", "2", "3"]) {
    await (await publish(running, "orders.created", body)).body?.cancel();
  }
  const response = await running.request("/v1/messaging/subscribe/orders.>?deliver=all", {
    headers: { "last-event-id": "2" },
  });
  const reader = response.body!.getReader();
  try {
    const [event] = await readEvents(reader, 1);
    assert.equal(event?.id, "3");
  } finally {
    await reader.cancel();
  }
});

Deno.test("a bad deliver option is 400 naming query.deliver", SANITIZED, async () => {
  await using running = await open();
  const response = await running.request("/v1/messaging/subscribe/orders.>?deliver=yesterday");
  assert.equal(response.status, 400);
  assert.equal((await problemOf(response)).field, "query.deliver");
});

Deno.test(
  "subscriptions per client are capped, and a closed one frees its slot",
  SANITIZED,
  async () => {
    await using running = await open({ maxSubscriptionsPerClient: 1 });
    const first = await running.request("/v1/messaging/subscribe/orders.>");
    assert.equal(first.status, 200);
    const refused = await running.request("/v1/messaging/subscribe/orders.>");
    assert.equal(refused.status, 429);
    assert.equal((await problemOf(refused)).code, "messaging.too_many_subscriptions");
    assert.ok(refused.headers.get("retry-after"));
    await first.body!.cancel();
    let again: Response | undefined;
    await waitFor(async () => {
      await again?.body?.cancel();
      again = await running.request("/v1/messaging/subscribe/orders.>");
      return again.status === 200;
    }, "the closed subscription to free its slot");
    await again?.body?.cancel();
  },
);

Deno.test("subscriptions end with an end event when edgebox drains", SANITIZED, async () => {
  await using running = await open();
  const response = await running.request("/v1/messaging/subscribe/orders.>");
  const reader = response.body!.getReader();
  running.lifecycle.beginDrain();
  const events = await readEvents(reader, 5);
  assert.deepEqual(events.map((e) => e.event), ["end"]);
  assert.equal((await reader.read()).done, true);
});

Deno.test("subscribing to a subject no stream captures is 404", SANITIZED, async () => {
  await using running = await open();
  const response = await running.request("/v1/messaging/subscribe/invoices.>");
  assert.equal(response.status, 404);
  assert.equal((await problemOf(response)).code, "messaging.no_stream");
});

// --- streams and consumers ---

Deno.test("streams are created, updated, listed, read and deleted", SANITIZED, async () => {
  await using running = await open();
  const created = await putJson(running, "/v1/messaging/streams/events", {
    subjects: ["events.>"],
    storage: "memory",
    maxAge: "7d",
    maxBytes: "1MiB",
  });
  assert.equal(created.status, 201);
  const info = await created.json();
  assert.equal(info.config.maxAge, "7d");
  assert.equal(info.config.maxBytes, 1024 * 1024);
  assert.equal(info.config.duplicateWindow, "2m");
  const updated = await putJson(running, "/v1/messaging/streams/events", {
    subjects: ["events.>"],
    storage: "memory",
    maxMsgs: 10,
  });
  assert.equal(updated.status, 200);
  assert.equal((await updated.json()).config.maxMsgs, 10);
  const list = await (await running.request("/v1/messaging/streams")).json();
  assert.deepEqual(list.streams.map((s: { config: { name: string } }) => s.config.name), [
    "events",
    "orders",
  ]);
  assert.equal(list.cursor, null);
  const deleted = await running.request("/v1/messaging/streams/events", { method: "DELETE" });
  assert.equal(deleted.status, 204);
  const gone = await running.request("/v1/messaging/streams/events");
  assert.equal(gone.status, 404);
  assert.equal((await problemOf(gone)).code, "messaging.stream_not_found");
});

Deno.test("an invalid stream config is 400 naming the field", SANITIZED, async () => {
  await using running = await open();
  const cases: Array<[unknown, string]> = [
    [{ subjects: ["events.>"], maxAge: "soon" }, "body.maxAge"],
    [{ subjects: [] }, "body.subjects"],
    [{ subjects: ["events..x"] }, "body.subjects.0"],
    [{ subjects: ["events.>"], retention: "forever" }, "body.retention"],
    [{ subjects: ["events.>"], maxMsg: 1 }, "body"],
  ];
  for (const [body, field] of cases) {
    const response = await putJson(running, "/v1/messaging/streams/events", body);
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal((await problemOf(response)).field, field, JSON.stringify(body));
  }
  const badName = await putJson(running, "/v1/messaging/streams/bad.name", { subjects: ["x.>"] });
  assert.equal(badName.status, 400);
  assert.equal((await problemOf(badName)).field, "path.name");
});

Deno.test("a stream whose subjects overlap another is 409", SANITIZED, async () => {
  await using running = await open();
  const response = await putJson(running, "/v1/messaging/streams/copy", { subjects: ["orders.*"] });
  assert.equal(response.status, 409);
  assert.equal((await problemOf(response)).code, "messaging.stream_conflict");
});

Deno.test("consumers are created, updated, read, listed and deleted", SANITIZED, async () => {
  await using running = await open();
  const path = "/v1/messaging/consumers/orders/worker";
  const created = await putJson(running, path, {
    filterSubject: "orders.created",
    ackWait: "10s",
    maxDeliver: 5,
  });
  assert.equal(created.status, 201);
  const info = await created.json();
  assert.deepEqual(info.config, {
    stream: "orders",
    name: "worker",
    filterSubject: "orders.created",
    ackWait: "10s",
    maxDeliver: 5,
    deliver: "all",
    maxAckPending: 1000,
  });
  const updated = await putJson(running, path, { filterSubject: "orders.created", ackWait: "1m" });
  assert.equal(updated.status, 200);
  assert.equal((await updated.json()).config.ackWait, "1m");
  const list = await (await running.request("/v1/messaging/consumers/orders")).json();
  assert.deepEqual(list.consumers.map((c: { config: { name: string } }) => c.config.name), [
    "worker",
  ]);
  assert.equal(list.cursor, null);
  assert.equal((await running.request(path, { method: "DELETE" })).status, 204);
  const gone = await running.request(path);
  assert.equal(gone.status, 404);
  assert.equal((await problemOf(gone)).code, "messaging.consumer_not_found");
});

/** Every name a listing returns, following its cursor with pages of `limit`. */
async function listAll(running: RunningApp, path: string, items: string, limit: number) {
  const names: string[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor !== null) query.set("cursor", cursor);
    const response = await running.request(`${path}?${query}`);
    assert.equal(response.status, 200);
    const page = await response.json();
    assert.ok(page[items].length <= limit);
    assert.ok("cursor" in page);
    names.push(...page[items].map((item: { config: { name: string } }) => item.config.name));
    cursor = page.cursor;
  } while (cursor !== null);
  return names;
}

Deno.test(
  "streams and consumers are listed by name, page after page, until the cursor is null",
  SANITIZED,
  async () => {
    await using running = await open();
    for (const name of ["b", "c", "a", "d"]) {
      const response = await putJson(running, `/v1/messaging/streams/${name}`, {
        subjects: [`${name}.>`],
        storage: "memory",
      });
      assert.equal(response.status, 201);
      await response.body?.cancel();
      const consumer = await putJson(running, `/v1/messaging/consumers/orders/${name}`, {});
      assert.equal(consumer.status, 201);
      await consumer.body?.cancel();
    }
    assert.deepEqual(await listAll(running, "/v1/messaging/streams", "streams", 2), [
      "a",
      "b",
      "c",
      "d",
      "orders",
    ]);
    assert.deepEqual(await listAll(running, "/v1/messaging/consumers/orders", "consumers", 3), [
      "a",
      "b",
      "c",
      "d",
    ]);
  },
);

Deno.test(
  "a listing cursor that is altered, or from another listing, is 400 naming query.cursor",
  SANITIZED,
  async () => {
    await using running = await open({
      streams: [ORDERS, { name: "audit", subjects: ["audit.>"], storage: "memory" }],
    });
    const first = await (await running.request("/v1/messaging/streams?limit=1")).json();
    assert.equal(typeof first.cursor, "string");
    for (
      const path of [
        `/v1/messaging/consumers/orders?cursor=${first.cursor}`,
        `/v1/messaging/streams?cursor=${first.cursor}x`,
        "/v1/messaging/streams?cursor=not-a-cursor",
        "/v1/messaging/streams?cursor=",
      ]
    ) {
      const response = await running.request(path);
      assert.equal(response.status, 400, path);
      const problem = await problemOf(response);
      assert.equal(problem.code, "messaging.cursor_invalid", path);
      assert.equal(problem.field, "query.cursor", path);
    }
  },
);

Deno.test("a listing's limit is bounded by maxPageSize", SANITIZED, async () => {
  await using running = await open({ maxPageSize: 5 });
  for (const limit of ["0", "6", "many"]) {
    const response = await running.request(`/v1/messaging/streams?limit=${limit}`);
    assert.equal(response.status, 400, limit);
    assert.equal((await problemOf(response)).field, "query.limit", limit);
  }
});

Deno.test("a consumer on a missing stream is 404", SANITIZED, async () => {
  await using running = await open();
  const response = await putJson(running, "/v1/messaging/consumers/nothing/worker", {});
  assert.equal(response.status, 404);
  assert.equal((await problemOf(response)).code, "messaging.stream_not_found");
});

// --- request/reply ---

Deno.test(
  "a request answers with the responder's reply, headers and content type",
  SANITIZED,
  async () => {
    await using running = await open();
    const responder = await exportsOf(running).respond("svc.greet", (request) => ({
      data: encoder.encode(`hello ${new TextDecoder().decode(request.data)}`),
      headers: { "Content-Type": "text/plain", "Served-By": "test" },
    }));
    try {
      const response = await running.request("/v1/messaging/request/svc.greet?timeout=2s", {
        method: "POST",
        body: "ada",
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/plain");
      assert.equal(response.headers.get("msg-served-by"), "test");
      assert.equal(await response.text(), "hello ada");
    } finally {
      await responder.close();
    }
  },
);

Deno.test("a request without a reply in time is 504", SANITIZED, async () => {
  await using running = await open();
  const responder = await exportsOf(running).respond("svc.slow", () => new Promise(() => {}));
  try {
    const response = await running.request("/v1/messaging/request/svc.slow?timeout=50ms", {
      method: "POST",
      body: "?",
    });
    assert.equal(response.status, 504);
    assert.equal((await problemOf(response)).code, "messaging.request_timeout");
  } finally {
    await responder.close();
  }
});

Deno.test("a request nobody answers is 503 with Retry-After", SANITIZED, async () => {
  await using running = await open();
  const response = await running.request("/v1/messaging/request/svc.none", {
    method: "POST",
    body: "?",
  });
  assert.equal(response.status, 503);
  assert.ok(response.headers.get("retry-after"));
  assert.equal((await problemOf(response)).code, "messaging.no_responders");
});

// --- availability ---

Deno.test(
  "while NATS is unreachable the routes answer 503 with Retry-After",
  SANITIZED,
  async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await using running = await openApp(
      configYaml({
        messaging: {
          backend: "nats",
          url: `nats://127.0.0.1:${port}`,
          connectTimeout: "200ms",
          required: false,
        },
      }),
      registry,
    );
    const response = await publish(running, "orders.created", "x");
    assert.equal(response.status, 503);
    assert.ok(response.headers.get("retry-after"));
    assert.equal((await problemOf(response)).code, "core.plugin_unavailable");
  },
);

// --- metrics ---

Deno.test(
  "traffic is counted: published, delivered, acked, redelivered and publish latency",
  SANITIZED,
  async () => {
    const seen = new Map<string, number>();
    const count = (name: string, labels?: Labels, value = 1) => {
      const key = `${name}${labels ? JSON.stringify(labels) : ""}`;
      seen.set(key, (seen.get(key) ?? 0) + value);
    };
    const metrics: Metrics = {
      counter: (name) => ({ inc: (labels, value) => count(name, labels, value) }),
      histogram: (name) => ({ observe: () => count(name) }),
      gauge: () => ({ set() {} }),
    };
    await using driver = meteredDriver(
      new MemoryMessaging({
        scope: "messaging",
        maxPayload: 1024,
        maxTotalBytes: 1024 * 1024,
        streams: [{
          name: "orders",
          subjects: ["orders.>"],
          retention: "limits",
          storage: "memory",
        }],
        consumers: [{
          stream: "orders",
          name: "w",
          ackWait: 30_000,
          deliver: "all",
          maxAckPending: 10,
        }],
      }),
      metrics,
    );
    await driver.connect();
    await driver.publish("orders.a", { data: encoder.encode("x") }, { msgId: "1" });
    await driver.publish("orders.a", { data: encoder.encode("x") }, { msgId: "1" });
    const [first] = await driver.fetch("orders", "w", { batch: 1, wait: 0 });
    await driver.ack(first!.token, "nak");
    const [again] = await driver.fetch("orders", "w", { batch: 1, wait: 0 });
    await driver.ack(again!.token, "ack");
    assert.deepEqual(Object.fromEntries(seen), {
      'edgebox_messaging_published_total{"outcome":"stored"}': 1,
      'edgebox_messaging_published_total{"outcome":"duplicate"}': 1,
      "edgebox_messaging_publish_duration_seconds": 2,
      'edgebox_messaging_delivered_total{"via":"fetch"}': 2,
      "edgebox_messaging_redelivered_total": 1,
      'edgebox_messaging_acked_total{"action":"nak"}': 1,
      'edgebox_messaging_acked_total{"action":"ack"}': 1,
    });
  },
);
