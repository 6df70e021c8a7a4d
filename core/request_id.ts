/** Request ids: kept from the client when well-formed, generated otherwise. */

/** What a client-supplied id may look like; anything else is replaced, not trusted into logs. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id to use for a request that offered `offered` (the `X-Request-Id` header, if any). */
export function requestIdFor(offered: string | null): string {
  return offered !== null && VALID_REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
}
