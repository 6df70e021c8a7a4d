/**
 * Continues a publisher's trace when its message is fetched: each delivery whose headers carry a
 * W3C `traceparent` becomes a `messaging.deliver <subject>` span in that trace.
 */
import type { PluginContext } from "../../core/plugin.ts";
import type { DeliveredMessage } from "./driver.ts";

/** The `onDelivered` hook of the routes, recording deliveries as spans through `ctx`. */
export function deliverySpans(
  ctx: Pick<PluginContext<{ backend: string }>, "config" | "span" | "withTraceParent">,
): (message: DeliveredMessage) => void {
  const system = ctx.config.backend;
  return (message) => {
    const traceparent = headerValue(message.headers, "traceparent");
    if (!traceparent) return;
    const tracestate = headerValue(message.headers, "tracestate");
    const carrier = tracestate ? { traceparent, tracestate } : { traceparent };
    void ctx.withTraceParent(carrier, () =>
      ctx.span(`messaging.deliver ${message.subject}`, {
        "messaging.system": system,
        "messaging.operation.type": "receive",
        "messaging.destination.name": message.subject,
        "messaging.message.id": String(message.seq),
        "messaging.consumer.group.name": message.stream,
      }, () => Promise.resolve()));
  };
}

/** A header's value whatever the case of its name (NATS keeps case; W3C names are lowercase). */
function headerValue(headers: Record<string, string>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}
