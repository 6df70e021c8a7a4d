/** The observability plugin's error table: every failure its routes can answer with. */
import { type EdgeboxError, errorFactory, type ErrorOptions } from "../../core/errors.ts";

/** Codes of the observability plugin, `observability.<reason>`. */
export const observabilityErrors = {
  "observability.forbidden": { status: 403, title: "Not allowed" },
  "observability.scrape_failed": { status: 500, title: "Cannot collect metrics" },
} as const;

/** A code from the observability table. */
export type ObservabilityErrorCode = keyof typeof observabilityErrors;

/** Creates an error from the observability table. */
export const observabilityError: (
  code: ObservabilityErrorCode,
  options?: ErrorOptions,
) => EdgeboxError = errorFactory(observabilityErrors);
