/**
 * The subject grammar both backends share (NATS's): dot-separated tokens, `*` matches one token,
 * `>` matches one or more trailing tokens. The memory broker matches with these functions, and the
 * routes validate every subject with them before any backend sees it.
 */

/** Stream and consumer names: they become subject tokens, so no dots, wildcards or spaces. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/** What a subject may be used for; publishing never takes wildcards. */
export type SubjectUse = "publish" | "filter";

/** Options of {@linkcode subjectProblem}. */
export interface SubjectRules {
  use: SubjectUse;
  /** Longest subject accepted, in characters. */
  maxLength: number;
}

// Whitespace and control characters are never part of a token (NATS's own rule).
// deno-lint-ignore no-control-regex
const BAD_CHAR = /[\s\x00-\x1f\x7f]/;

/**
 * Why `subject` is not acceptable, or `undefined` when it is. Reserved subjects (`$JS.API...`,
 * `$SYS...`, `_INBOX...`) are refused: reaching them over HTTP would expose the backend's own
 * API or let a client forge replies.
 */
export function subjectProblem(subject: string, rules: SubjectRules): string | undefined {
  if (subject.length === 0) return "must not be empty";
  if (subject.length > rules.maxLength) return `must be at most ${rules.maxLength} characters`;
  if (BAD_CHAR.test(subject)) return "must not contain whitespace or control characters";
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.length === 0) return "must not contain empty tokens";
    const wildcard = token === "*" || token === ">";
    if (!wildcard && (token.includes("*") || token.includes(">"))) {
      return `token "${token}" mixes a wildcard with other characters`;
    }
    if (wildcard && rules.use === "publish") return "must not contain wildcards";
    if (token === ">" && i !== tokens.length - 1) return "may use > only as the last token";
  }
  const first = tokens[0]!;
  if (first.startsWith("$") || first === "_INBOX") {
    return `must not start with "${first}" (reserved)`;
  }
  return undefined;
}

/** True when the literal `subject` matches `filter`. */
export function subjectMatches(filter: string, subject: string): boolean {
  if (filter === subject) return true;
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const token = f[i]!;
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return f.length === s.length;
}

/** True when every subject `inner` matches is also matched by `outer`. */
export function filterSubsumes(outer: string, inner: string): boolean {
  const o = outer.split(".");
  const n = inner.split(".");
  for (let i = 0; i < o.length; i++) {
    const token = o[i]!;
    if (token === ">") return n.length > i;
    if (i >= n.length) return false;
    const other = n[i]!;
    if (other === ">") return false;
    if (token !== "*" && (other === "*" || other !== token)) return false;
  }
  return o.length === n.length;
}

/** True when some literal subject matches both filters. */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return false;
    if (p === ">" || q === ">") return true;
    if (p !== "*" && q !== "*" && p !== q) return false;
  }
  return true;
}
