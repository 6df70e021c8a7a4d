/**
 * The one middleware before every cache route: it refuses a path whose percent-encoding is not
 * UTF-8 and every conditional header the matched route cannot honour.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes, routePath } from "hono/route";
import type { AppEnv } from "../../../core/http_env.ts";
import { badCondition, CONDITIONAL_HEADERS, type ConditionalHeader } from "../conditions.ts";
import { cacheError } from "../errors.ts";

/**
 * Hono leaves a path segment whose percent-encoding is not UTF-8 (`%FF`) undecoded, so the key
 * would silently be the literal text; refuse it instead.
 */
function refuseMalformedPath(url: string): void {
  const end = url.indexOf("?");
  const path = end === -1 ? url : url.slice(0, end);
  if (path.includes("%")) {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      if (!segment.includes("%")) continue;
      try {
        decodeURIComponent(segment);
      } catch {
        const isField = segments[i - 1] === "fields";
        throw cacheError(isField ? "cache.field_invalid" : "cache.key_invalid", {
          detail: `path.${isField ? "field" : "key"}: the percent-encoding is not valid UTF-8`,
          field: `path.${isField ? "field" : "key"}`,
        });
      }
    }
  }
}

/**
 * Refuses every conditional header a route cannot honour: no route honours the date conditions
 * or `If-Range` (values have no dates), and only the value routes (`GET`/`HEAD`/`PUT`/`DELETE
 * /keys/{key}`) evaluate `If-Match` and `If-None-Match`, checking which forms apply themselves
 * (conditionsOf). Deny by default, so a route added later cannot silently ignore one.
 */
function refuseConditions(c: Context<AppEnv>): void {
  const headers = c.req.raw.headers;
  let present: ConditionalHeader | undefined;
  for (const name of CONDITIONAL_HEADERS) {
    if (!headers.has(name)) continue;
    if (name !== "if-match" && name !== "if-none-match") {
      throw badCondition(name, "cache values have no dates; use If-Match or If-None-Match");
    }
    present ??= name;
  }
  if (present === undefined) return;
  const base = routePath(c).replace(/\/?\*$/, "");
  const valueRoute = matchedRoutes(c).some((route) =>
    route.path === `${base}/keys/:key` && route.method !== "ALL"
  );
  if (!valueRoute) throw badCondition(present, "this route cannot honour the condition");
}

/** Checks every request before its route: one middleware, as each costs a request. */
export const guard: MiddlewareHandler<AppEnv> = (c, next) => {
  refuseMalformedPath(c.req.url);
  refuseConditions(c);
  return next();
};
