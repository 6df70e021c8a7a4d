/** The options every messaging route resource is registered with. */
import type { DeliveredMessage } from "../driver.ts";
import type { SchemaLimits } from "../schemas.ts";

/** Options of the messaging routes (`messagingRoutes`). */
export interface MessagingRoutesOptions extends SchemaLimits {
  /** The instance name: listing cursors are bound to it. */
  instance: string;
  /** Largest payload plus headers accepted (the driver's own limit may be lower). */
  maxPayload: number;
  /** Most `Msg-*` headers a publish or request may carry. */
  maxHeaders: number;
  maxSubscriptions: number;
  maxSubscriptionsPerClient: number;
  /** Interval of keep-alive comments on idle subscriptions, in milliseconds. */
  keepAlive: number;
  /** Ends every live subscription and waiting fetch (edgebox draining, instance stopping). */
  signal: AbortSignal;
  /** W3C trace context to carry in published messages. */
  traceHeaders?: () => Record<string, string>;
  /**
   * Called for each fetched message, to record its delivery in the publisher's trace (the
   * `traceparent` the publish carried), so a consumer's fetch continues that trace.
   */
  onDelivered?: (message: DeliveredMessage) => void;
  /** Called when a subscription opens (+1) or closes (-1). */
  onSubscriptions?: (open: number) => void;
}
