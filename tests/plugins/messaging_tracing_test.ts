/** Trace context travels with a message: a consumer's fetch continues the publisher's trace. */
import assert from "node:assert/strict";
import { openApp, SANITIZED } from "../_helpers.ts";
import { messagingPlugin } from "../../plugins/messaging/mod.ts";
import {
  observabilityRegistry,
  observabilityYaml,
  startOtlpReceiver,
} from "./_observability_helpers.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

Deno.test(
  "a fetched message's delivery is a span in its publisher's trace",
  SANITIZED,
  async () => {
    await using receiver = startOtlpReceiver();
    const registry = new Map(observabilityRegistry());
    registry.set("messaging", messagingPlugin);
    const yaml = observabilityYaml({
      observability: {
        tracing: { enabled: true, endpoint: receiver.endpoint, exportDelay: "1m" },
        timeouts: { start: "2s", ready: "1s", stop: "5s" },
      },
      plugins: {
        messaging: {
          type: "messaging",
          backend: "memory",
          streams: [{ name: "orders", subjects: ["orders.>"], storage: "memory" }],
          consumers: [{ stream: "orders", name: "worker", ackWait: "30s" }],
        },
      },
    });
    await using running = await openApp(yaml, registry);

    const published = await running.request("/v1/messaging/publish/orders.created", {
      method: "POST",
      headers: { "content-type": "text/plain", traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
      body: "order 1",
    });
    assert.equal(published.status, 200, await published.text());
    // The consumer's fetch comes without any trace context of its own.
    const fetched = await running.request(
      "/v1/messaging/consumers/orders/worker/fetch?batch=1&wait=1s",
      { method: "POST" },
    );
    const { messages } = await fetched.json();
    assert.equal(messages.length, 1);
    await running.lifecycle.stop();

    const delivery = receiver.spans().find((s) => s.name === "messaging.deliver orders.created");
    assert.ok(delivery, `no delivery span among ${receiver.spans().map((s) => s.name)}`);
    assert.equal(delivery.traceId, TRACE_ID);
  },
);
