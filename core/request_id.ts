/** Request ids: kept from the client when well-formed, generated otherwise, echoed back. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./http_env.ts";
import type { Logger } from "./log.ts";

/** What a client-supplied id may look like; anything else is replaced, not trusted into logs. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Sets `requestId` and a request-scoped `log`, and echoes `X-Request-Id`. */
export function requestId(log: Logger): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const offered = c.req.header("x-request-id");
    const id = offered !== undefined && VALID_REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
    c.set("requestId", id);
    c.set("log", log.child({ requestId: id }));
    await next();
    c.res.headers.set("x-request-id", id);
  };
}
