/**
 * The audit plugin's error table: every failure it reports, with a stable `audit.*` code clients
 * can match on. Conditional headers it cannot parse or honour, and a bad `limit`, answer the
 * core's `core.validation_failed` naming the header or query field.
 */
import { defineErrors } from "../../mod.ts";

/** Codes the audit plugin answers with; `auditError.unavailable(...)` is the 503. */
export const auditError = defineErrors({
  "audit.key_invalid": { status: 400, title: "Invalid key" },
  "audit.cursor_invalid": { status: 400, title: "Invalid cursor" },
  "audit.not_found": { status: 404, title: "Key not found" },
  "audit.precondition_failed": { status: 412, title: "Precondition failed" },
  "audit.value_too_large": { status: 413, title: "Value too large" },
  "audit.unavailable": { status: 503, title: "Audit store unavailable" },
});

/** Quotes a key for a message, cut short so a long key does not flood logs. */
export function quoted(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 77)}...` : key);
}
