/** Hides secrets in config before it is shown (`GET /plugins`, logs). */

const SECRET_KEY =
  /(password|passwd|secret|secretaccesskey|token|credentials?|apikey|privatekey|^key)$/i;

/** Placeholder for a hidden value. */
export const REDACTED = "[redacted]";

/** A deep copy with secret-named fields and URL passwords replaced by `[redacted]`. */
export function redact(value: unknown, key = ""): unknown {
  if (SECRET_KEY.test(key) && value !== undefined && value !== null && value !== "") {
    return REDACTED;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  if (typeof value === "string") return redactUrl(value);
  return value;
}

function redactUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(text)) return text;
  try {
    const url = new URL(text);
    if (url.password) url.password = "redacted";
    return url.toString();
  } catch {
    return text; // Not a URL after all; nothing to hide in it.
  }
}
