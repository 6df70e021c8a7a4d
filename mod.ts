/**
 * edgebox's public API: what a program needs to build an edgebox with plugins of its own.
 *
 * ```ts
 * import { builtinPlugins, main } from "@edgebox/edgebox";
 * import { auditPlugin } from "./audit.ts";
 *
 * if (import.meta.main) {
 *   Deno.exit(await main(Deno.args, { plugins: [...builtinPlugins, auditPlugin] }));
 * }
 * ```
 *
 * `deno compile` of that program is a single binary with every plugin in it. The plugin
 * contract, the HTTP toolkit and the capabilities of the built-in plugins are exported here;
 * `@edgebox/edgebox/testing` has the kit to test a plugin.
 */
export { main, type MainOptions } from "./core/cli.ts";
export { builtinPlugins } from "./plugins/mod.ts";
export {
  type BackendDefinition,
  type Capability,
  defineBackend,
  defineCapability,
  definePlugin,
  type Driver,
  type HealthReport,
  type PluginContext,
  type PluginDefinition,
  type PluginInstance,
  provide,
  type Requirement,
} from "./core/plugin.ts";
export { lazyPlugin, type LazyPluginDeclaration } from "./core/lazy_plugin.ts";
export {
  coreError,
  defineErrors,
  EdgeboxError,
  type ErrorOptions,
  type Errors,
  type ErrorSpec,
} from "./core/errors.ts";
export { createRouter, validationError } from "./core/routes.ts";
export type { AppEnv, PluginRoutes, Principal, RequestContext } from "./core/http_env.ts";
export { jsonResponse, problemResponse, ProblemSchema } from "./core/openapi.ts";
export { CursorError, decodeCursor, encodeCursor, MAX_CURSOR_LENGTH } from "./core/cursor.ts";
export { RATE_LIMIT_STORE, type RateLimitStore } from "./core/rate_limit.ts";
export { duration, size } from "./core/units.ts";
export { utf8Length } from "./core/utf8.ts";
export { KEY_VALUE, type KeyValueStore } from "./plugins/cache/capability.ts";
/** The strong entity tag a {@linkcode KeyValueStore} gives a value stored with a content type. */
export { entityTag } from "./plugins/cache/etag.ts";
