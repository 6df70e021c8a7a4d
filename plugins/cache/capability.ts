/**
 * What the cache offers other plugins by capability: a key-value store with entity tags, the
 * part of the cache a plugin of someone else's needs (`requires: [KEY_VALUE]`, then
 * `ctx.use(KEY_VALUE)`), whichever cache instance and backend provides it.
 */
import { defineCapability } from "../../core/plugin.ts";
import type { CacheApi } from "./driver.ts";

/** A key-value store: values are bytes with a content type, a TTL and a strong entity tag. */
export type KeyValueStore = Pick<CacheApi, "get" | "stat" | "set" | "delete" | "list">;

/** The key-value capability, provided by every cache instance. */
export const KEY_VALUE = defineCapability<KeyValueStore>("edgebox.keyValue");
