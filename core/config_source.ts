/**
 * The config text parsed as a YAML document that remembers where each value was written, so
 * every issue can point at its `line:col`.
 */
import YAML, { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node } from "yaml";
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
    return {
      ok: false,
      issues: document.errors.map((error) => ({
        path: [],
        message: error.message.split("\n")[0]!,
        ...position(error.pos[0]),
      })),
    };
  }
  const locate: Locate = (path, atKey = false) =>
    position(offsetOf(document.contents, path, atKey));
  return { ok: true, source: { document, position, locate } };
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
