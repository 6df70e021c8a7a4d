/**
 * Paging by name, shared by the backends: a listing is sorted in code-point order and a page is
 * the first `limit` names after the last one the client saw, so pages stay right while streams
 * or consumers are added and deleted between requests.
 */
import type { Page } from "./driver.ts";

/** The items of one page of `items` (in any order), keyed by `nameOf`. */
export function namePage<T>(
  items: Iterable<T>,
  nameOf: (item: T) => string,
  page: Page,
): { items: T[]; more: boolean } {
  const after = page.after;
  const kept = after === undefined ? [...items] : [...items].filter((item) => nameOf(item) > after);
  kept.sort((a, b) => compare(nameOf(a), nameOf(b)));
  return { items: kept.slice(0, page.limit), more: kept.length > page.limit };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
