/** Stream settings rules both backends apply the same way (NATS's, mirrored by the memory broker). */
import { messagingError } from "./errors.ts";
import type { StreamSettings, StreamSpec } from "./driver.ts";

/** The duplicate window a stream gets when its spec does not name one. */
export const DEFAULT_DUPLICATE_WINDOW = 120_000;

/** The shortest maximum age NATS accepts; the memory broker holds to it too. */
export const MIN_MAX_AGE = 100;

/**
 * The settings a spec resolves to: an unset duplicate window is two minutes, or the maximum age
 * when that is shorter; a window longer than the maximum age is refused.
 */
export function resolveStreamSpec(spec: StreamSpec): StreamSettings {
  const maxAge = spec.maxAge || undefined;
  if (maxAge !== undefined && maxAge < MIN_MAX_AGE) {
    throw messagingError("messaging.stream_invalid", {
      detail: `Cannot configure stream "${spec.name}": maxAge must be at least ${MIN_MAX_AGE}ms`,
      field: "maxAge",
    });
  }
  const window = spec.duplicateWindow ??
    (maxAge === undefined ? DEFAULT_DUPLICATE_WINDOW : Math.min(maxAge, DEFAULT_DUPLICATE_WINDOW));
  if (maxAge !== undefined && window > maxAge) {
    throw messagingError("messaging.stream_invalid", {
      detail: `Cannot configure stream "${spec.name}": duplicateWindow exceeds maxAge`,
      field: "duplicateWindow",
    });
  }
  const settings: StreamSettings = {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention,
    storage: spec.storage,
    duplicateWindow: window,
  };
  if (maxAge !== undefined) settings.maxAge = maxAge;
  if (spec.maxMsgs) settings.maxMsgs = spec.maxMsgs;
  if (spec.maxBytes) settings.maxBytes = spec.maxBytes;
  if (spec.description !== undefined) settings.description = spec.description;
  return settings;
}
