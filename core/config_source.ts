/**
 * The config text parsed as a YAML document that remembers where each value was written, so
 * every issue can point at its `line:col`.
 */
import YAML, {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type YAMLError,
} from "yaml";
import type { ConfigIssue } from "./config_error.ts";

/** A path into the config (`["plugins", "cache", "url"]`). */
export type ConfigPath = readonly (string | number)[];

/** A place in the config text, 1-based. */
export interface Position {
  line: number;
  col: number;
}

/** Where the node at `path` (or its key, with `atKey`) was written. */
export type Locate = (path: ConfigPath, atKey?: boolean) => Position;

/** A parsed config document and the positions of its nodes. */
export interface ConfigSource {
  readonly document: Document;
  /** Line and column of a character offset. */
  position(offset: number): Position;
  /** See {@linkcode Locate}; a missing node is placed at its deepest existing ancestor. */
  locate: Locate;
}

/** A parsed document, or the syntax errors that stopped it (each at its position). */
export type ParsedSource =
  | { ok: true; source: ConfigSource }
  | { ok: false; issues: ConfigIssue[] };

/** Parses config text, keeping positions; duplicate keys are syntax errors. */
export function parseSource(text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const document = YAML.parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  if (document.errors.length) {
    return { ok: false, issues: syntaxIssues(text, document.errors, position) };
  }
  const locate: Locate = (path, atKey = false) =>
    position(offsetOf(document.contents, path, atKey));
  return { ok: true, source: { document, position, locate } };
}

/**
 * The YAML parser's errors, each placed where the mistake was written rather than where the
 * parser gave up: a line indented too deep is reported on that line (the parser places it at the
 * value above it), an unclosed quote or bracket at its opening character (not at the end of the
 * file). One issue per line.
 */
function syntaxIssues(
  text: string,
  errors: readonly YAMLError[],
  position: (offset: number) => Position,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<number>();
  // "Nested mappings" at the value above repeats the multi-line key error that names the line.
  const multiline = new Set(
    errors.filter((e) => e.code === "MULTILINE_IMPLICIT_KEY").map((e) => e.pos[0]),
  );
  for (const error of errors) {
    if (error.code === "BLOCK_AS_IMPLICIT_KEY" && multiline.has(error.pos[0])) continue;
    let offset = error.pos[0];
    let message = error.message.split("\n")[0]!;
    if (error.code === "MULTILINE_IMPLICIT_KEY" || error.code === "BLOCK_AS_IMPLICIT_KEY") {
      // The span runs from the value above to the key that was indented into it.
      const lineStart = text.lastIndexOf("\n", Math.max(error.pos[0], error.pos[1] - 1)) + 1;
      if (lineStart > error.pos[0]) {
        offset = lineStart + (/^\s*/.exec(text.slice(lineStart))?.[0].length ?? 0);
        message = `${message}: this line is indented deeper than the key above it, or the ` +
          `value above needs quotes`;
      }
    } else if (/^Missing closing (["'])quote/.test(message)) {
      const quote = message.charAt("Missing closing ".length);
      const opening = text.lastIndexOf(quote, error.pos[0] - 1);
      if (opening >= 0) {
        offset = opening;
        message = `The value opened with ${quote} here has no closing ${quote}`;
      }
    } else if (/^Flow (sequence|map) in block collection/.test(message)) {
      const bracket = message.startsWith("Flow sequence") ? "[" : "{";
      const opening = text.lastIndexOf(bracket, error.pos[0] - 1);
      if (opening >= 0) {
        offset = opening;
        message = `The ${bracket} opened here is not closed with ${
          bracket === "[" ? "]" : "}"
        } (or the next line is not indented enough)`;
      }
    }
    const at = position(offset);
    if (seen.has(at.line)) continue;
    seen.add(at.line);
    issues.push({ path: [], message, ...at });
  }
  return issues;
}

/** A path as one string, to keep paths in a set. */
export function pathKey(path: readonly PropertyKey[]): string {
  return path.map(String).join("\0");
}

/** The path from the document's root to `target`. */
export function pathOf(root: unknown, target: Node): (string | number)[] {
  const search = (node: unknown, path: (string | number)[]): (string | number)[] | undefined => {
    if (node === target) return path;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const found = search(pair.value, [
          ...path,
          isScalar(pair.key) ? String(pair.key.value) : "?",
        ]);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        const found = search(item, [...path, index]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return search(root, []) ?? [];
}

/**
 * Offset of the node at `path` (or of its key, with `atKey`); for a missing node, the deepest
 * ancestor that exists, so "Required" errors point at the block that lacks the field.
 */
function offsetOf(root: unknown, path: ConfigPath, atKey: boolean): number {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((item) =>
        isScalar(item.key) && String(item.key.value) === String(segment)
      );
      if (!pair) return offset;
      const keyOffset = (pair.key as Node).range?.[0] ?? offset;
      if (i === path.length - 1 && atKey) return keyOffset;
      node = pair.value as Node | null;
      offset = node?.range?.[0] ?? keyOffset;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment] as Node | undefined;
      if (!node) return offset;
      offset = node.range?.[0] ?? offset;
    } else return offset;
  }
  return offset;
}
