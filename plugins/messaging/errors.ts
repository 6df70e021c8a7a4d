/**
 * The messaging plugin's error table: every failure a client can see, with its status. Drivers
 * throw these (keeping the client library's error as `cause`), so routes never map errors.
 */
import { defineErrors, EdgeboxError, type Errors, type ErrorSpec } from "../../core/errors.ts";

/** Codes of the messaging plugin, `messaging.<reason>`. */
export const messagingErrors = {
  "messaging.unavailable": { status: 503, title: "Messaging backend unavailable" },
  "messaging.timeout": { status: 504, title: "Messaging backend did not answer in time" },
  "messaging.backend_error": { status: 502, title: "Messaging backend failed" },
  "messaging.subject_invalid": { status: 400, title: "Subject is invalid" },
  "messaging.subject_ambiguous": { status: 400, title: "Subject spans several streams" },
  "messaging.no_stream": { status: 404, title: "No stream captures the subject" },
  "messaging.stream_not_found": { status: 404, title: "Stream not found" },
  "messaging.consumer_not_found": { status: 404, title: "Consumer not found" },
  "messaging.stream_invalid": { status: 400, title: "Stream configuration is invalid" },
  "messaging.stream_conflict": { status: 409, title: "Stream conflicts with existing state" },
  "messaging.consumer_invalid": { status: 400, title: "Consumer configuration is invalid" },
  "messaging.consumer_conflict": { status: 409, title: "Consumer conflicts with existing state" },
  "messaging.payload_too_large": { status: 413, title: "Message payload too large" },
  "messaging.headers_invalid": { status: 400, title: "Message headers are invalid" },
  "messaging.token_invalid": { status: 400, title: "Ack token is invalid" },
  "messaging.request_timeout": { status: 504, title: "No reply within the timeout" },
  "messaging.no_responders": { status: 503, title: "Nobody listens on the subject" },
  "messaging.too_many_subscriptions": { status: 429, title: "Too many subscriptions" },
  "messaging.too_many_fetches": { status: 429, title: "Too many waiting fetches" },
  "messaging.storage_full": { status: 507, title: "Messaging storage is full" },
  "messaging.cursor_invalid": { status: 400, title: "Listing cursor is invalid" },
} as const satisfies Record<string, ErrorSpec>;

/** A code from the messaging table. */
export type MessagingErrorCode = keyof typeof messagingErrors;

/**
 * Creates an error from the messaging table; `messagingError.unavailable(detail, cause)` is the
 * backend-unreachable 503 with `Retry-After`, so clients back off and retry.
 */
export const messagingError: Errors<MessagingErrorCode> = defineErrors(messagingErrors);

/** True when `error` is a messaging error with this code. */
export function hasCode(error: unknown, code: MessagingErrorCode): boolean {
  return error instanceof EdgeboxError && error.code === code;
}
