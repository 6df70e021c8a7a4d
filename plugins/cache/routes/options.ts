/** What each cache resource's routes are registered with. */
import type { CacheRouteLimits, cacheSchemas } from "../schemas.ts";

/** The routes' limits, and the request schemas built once from them. */
export interface CacheResourceOptions extends CacheRouteLimits {
  /** The request schemas of this instance's limits, shared by every resource. */
  readonly schemas: ReturnType<typeof cacheSchemas>;
}
