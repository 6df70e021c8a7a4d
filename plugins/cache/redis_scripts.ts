/**
 * The Lua scripts behind the Redis driver: every write that reads before it writes (conditions,
 * create-if-absent, counters, hash limits, rate limits) is one script, so Redis runs it
 * atomically in one round trip. Plain reads (`get`, `getHash`) and an unconditional delete are
 * single plain commands in redis.ts, not scripts.
 *
 * Each cache entry is ONE key, `<prefix><key>`, holding a Redis hash (see redis_layout.ts for
 * the field names and README "Layout in Redis"):
 *
 * - a value: `v` the bytes, `t` the content type (absent: application/octet-stream), `e` its
 *   entity tag (absent: computed from `t` and `v`, as counters do), `x` the absolute expiry in
 *   epoch ms (absent: none; the key carries the same PEXPIREAT);
 * - a hash: `k` = `hash` (the marker), `x` as above, and each user field under `f:<name>`.
 *
 * A plain Redis string under the name (written by another client, or by edgebox before this
 * layout) reads as an application/octet-stream value; any other type is `cache.wrong_type`.
 * Expiry instants come from the server's clock (`TIME`), so the key's PEXPIREAT and `x` agree.
 *
 * Rate-limit counters (plain strings) and listing spills (lists) are the plugin's bookkeeping:
 * their names start with NUL after the prefix (see keys.ts) so no user key can take them.
 * A listing page that SCAN overfilled keeps the keys left over in a spill list at
 * `<prefix>\0ls:<id>` (its first element the listing's prefix), for a few minutes, so the
 * cursor carries only the spill's id and not the keys.
 */
import { DEFAULT_CONTENT_TYPE } from "./driver.ts";
import { FIELD } from "./redis_layout.ts";

/** Lua string literal of a reserved field name. */
const F = Object.fromEntries(
  Object.entries(FIELD).map(([name, field]) => [name, `'${field}'`]),
) as Record<keyof typeof FIELD, string>;

/** The error Redis itself gives for a key of another type; redis.ts maps it to wrong_type. */
const WRONG_TYPE = `
local function wrong_type()
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
`;

/** The server's clock in epoch milliseconds. */
const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * What `key` holds: 'none', 'value' (an entry written as a value), 'string' (a plain Redis
 * string), 'hash' (an entry written as a hash) or 'other' (any other type, or a Redis hash
 * edgebox did not write).
 */
const KIND = `
local function kind(key)
  local t = redis.call('TYPE', key)['ok']
  if t == 'hash' then
    if redis.call('HEXISTS', key, ${F.marker}) == 1 then return 'hash' end
    if redis.call('HEXISTS', key, ${F.value}) == 1 then return 'value' end
    return 'other'
  end
  if t == 'none' or t == 'string' then return t end
  return 'other'
end
`;

/** Sets the expiry `ttl` ms from now (0: none) on `key` and records it in its `x` field. */
const EXPIRE = `${NOW}
local function expire(key, ttl)
  if ttl <= 0 then return end
  local at = now_ms() + ttl
  redis.call('HSET', key, ${F.expiry}, string.format('%d', at))
  redis.call('PEXPIREAT', key, string.format('%d', at))
end
`;

/**
 * Replaces whatever `key` holds with a value: its bytes, content type ('' for the default, not
 * stored), entity tag and TTL (0: none).
 */
const STORE = `${EXPIRE}
local function store(key, value, ct, tag, ttl)
  redis.call('DEL', key)
  if ct == '' then
    redis.call('HSET', key, ${F.value}, value, ${F.tag}, tag)
  else
    redis.call('HSET', key, ${F.value}, value, ${F.type}, ct, ${F.tag}, tag)
  end
  expire(key, ttl)
end
`;

/**
 * The entity tag of the value under `key` (see etag.ts: the SHA-1 of the content type, a newline
 * and the bytes; the stored `e` when there is one), false when the key is absent, '' when it
 * holds something else (a hash).
 */
const ETAG = `${KIND}
local function tag_of(ct, value)
  return '"' .. redis.sha1hex((ct or '${DEFAULT_CONTENT_TYPE}') .. '\\n' .. value) .. '"'
end
local function etag(key)
  local k = kind(key)
  if k == 'none' then return false end
  if k == 'string' then return tag_of(false, redis.call('GET', key)) end
  if k ~= 'value' then return '' end
  local f = redis.call('HMGET', key, ${F.value}, ${F.type}, ${F.tag})
  return f[3] or tag_of(f[2], f[1])
end
`;

/**
 * Whether an If-Match condition holds for `key`: ARGV[first] is '0' (no condition), '*' (the key
 * holds anything) or 'L' (its tag is one of ARGV[first + 1 ..], compared exactly).
 */
const IF_MATCH = `${ETAG}
local function if_match(key, first)
  local mode = ARGV[first]
  if mode == '0' then return true end
  if mode == '*' then return redis.call('EXISTS', key) == 1 end
  local tag = etag(key)
  if not tag or tag == '' then return false end
  for i = first + 1, #ARGV do
    if ARGV[i] == tag then return true end
  end
  return false
end
`;

/** The number of user fields of the hash `key` (which holds the marker). */
const HASH_SIZE = `
local function hash_size(key)
  return redis.call('HLEN', key) - 1 - redis.call('HEXISTS', key, ${F.expiry})
end
`;

/** A script as ioredis' `defineCommand` takes it. */
export interface ScriptDefinition {
  lua: string;
  /** Fixed key count; left out when the caller passes it first (batch). */
  numberOfKeys?: number;
}

/** The scripts, by the command name ioredis defines for each (`<name>` and `<name>Buffer`). */
export const SCRIPTS = {
  /**
   * KEYS: entry. Returns nil, or {size, contentType|nil, pttl, etag}: the tag is read (or hashed
   * here) so HEAD never carries the bytes.
   */
  edgeboxCacheStat: {
    numberOfKeys: 1,
    lua: `${ETAG}${WRONG_TYPE}
local key = KEYS[1]
local k = kind(key)
if k == 'none' then return false end
if k == 'string' then
  return {redis.call('STRLEN', key), false, redis.call('PTTL', key), etag(key)}
end
if k ~= 'value' then return wrong_type() end
return {
  redis.call('HSTRLEN', key, ${F.value}), redis.call('HGET', key, ${F.type}),
  redis.call('PTTL', key), etag(key)
}
`,
  },
  /**
   * KEYS: entry. ARGV: value, contentType ('' for the default), etag, ttl, ifAbsent ('1'), then
   * an If-Match condition (see IF_MATCH). Returns 0 (exists, nothing written), 1 (created), 2
   * (replaced) or 3 (If-Match failed, nothing written).
   */
  edgeboxCacheSet: {
    numberOfKeys: 1,
    lua: `${STORE}${IF_MATCH}
if not if_match(KEYS[1], 6) then return 3 end
local existed = redis.call('EXISTS', KEYS[1])
if existed == 1 and ARGV[5] == '1' then return 0 end
store(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
return existed + 1
`,
  },
  /**
   * KEYS: entry. ARGV: an If-Match condition (see IF_MATCH). Returns 1 when the key existed and
   * was deleted, 0 when it did not exist, 2 when it exists but If-Match failed. (A delete
   * without a condition is a plain DEL.)
   */
  edgeboxCacheDelete: {
    numberOfKeys: 1,
    lua: `${IF_MATCH}
if not if_match(KEYS[1], 1) then return redis.call('EXISTS', KEYS[1]) * 2 end
return redis.call('DEL', KEYS[1])
`,
  },
  /**
   * KEYS: entry. ARGV: by, ttl (0: none), contentType. HINCRBY on the value's `v` (INCRBY on a
   * plain string) fails before any write on a value that is not an integer; a counter this
   * creates gets the TTL and the counter content type; a counted value drops its stored tag.
   */
  edgeboxCacheIncr: {
    numberOfKeys: 1,
    lua: `${KIND}${EXPIRE}${WRONG_TYPE}
local key = KEYS[1]
local k = kind(key)
if k == 'string' then return redis.call('INCRBY', key, ARGV[1]) end
if k == 'none' then
  local n = redis.call('HINCRBY', key, ${F.value}, ARGV[1])
  redis.call('HSET', key, ${F.type}, ARGV[3])
  expire(key, tonumber(ARGV[2]))
  return n
end
if k ~= 'value' then return wrong_type() end
local n = redis.call('HINCRBY', key, ${F.value}, ARGV[1])
redis.call('HDEL', key, ${F.tag})
return n
`,
  },
  /**
   * KEYS: hash. ARGV: ttl, defaultTtl, maxFields, setCount, then setCount field/value pairs,
   * then the fields to delete. Returns {size, created} or {-1, size} when over maxFields (and
   * then writes nothing). A key holding anything but a hash is WRONGTYPE, before any write.
   */
  edgeboxCachePatchHash: {
    numberOfKeys: 1,
    lua: `${KIND}${EXPIRE}${WRONG_TYPE}${HASH_SIZE}
local key = KEYS[1]
local ttl, default, max, nset = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local k = kind(key)
if k ~= 'none' and k ~= 'hash' then return wrong_type() end
local before = 0
if k == 'hash' then before = hash_size(key) end
local size = before
local firstDel = 5 + 2 * nset
for i = 5, firstDel - 1, 2 do
  if redis.call('HEXISTS', key, ${F.fieldPrefix} .. ARGV[i]) == 0 then size = size + 1 end
end
for i = firstDel, #ARGV do
  if redis.call('HEXISTS', key, ${F.fieldPrefix} .. ARGV[i]) == 1 then size = size - 1 end
end
if size > max then return {-1, size} end
if size == 0 then
  if before > 0 then redis.call('DEL', key) end
  return {0, 0}
end
if before == 0 then redis.call('HSET', key, ${F.marker}, 'hash') end
-- in chunks: Lua's stack holds only a few thousand values
local chunk = {}
for i = 5, firstDel - 1, 2 do
  chunk[#chunk + 1] = ${F.fieldPrefix} .. ARGV[i]
  chunk[#chunk + 1] = ARGV[i + 1]
  if #chunk >= 200 then redis.call('HSET', key, unpack(chunk)); chunk = {} end
end
if #chunk > 0 then redis.call('HSET', key, unpack(chunk)); chunk = {} end
for i = firstDel, #ARGV do
  chunk[#chunk + 1] = ${F.fieldPrefix} .. ARGV[i]
  if #chunk >= 100 then redis.call('HDEL', key, unpack(chunk)); chunk = {} end
end
if #chunk > 0 then redis.call('HDEL', key, unpack(chunk)) end
if ttl > 0 then expire(key, ttl)
elseif before == 0 then expire(key, default) end
if before == 0 then return {size, 1} end
return {size, 0}
`,
  },
  /**
   * KEYS: hash. ARGV: field. Returns 1 when the field existed (removing the last one removes the
   * hash), 0 when not; WRONGTYPE when the key holds anything but a hash.
   */
  edgeboxCacheDeleteHashField: {
    numberOfKeys: 1,
    lua: `${KIND}${WRONG_TYPE}${HASH_SIZE}
local key = KEYS[1]
local k = kind(key)
if k == 'none' then return 0 end
if k ~= 'hash' then return wrong_type() end
local n = redis.call('HDEL', key, ${F.fieldPrefix} .. ARGV[1])
if n == 1 and hash_size(key) == 0 then redis.call('DEL', key) end
return n
`,
  },
  /**
   * KEYS: counter. ARGV: windowMs. A fixed window: the first hit creates the counter with the
   * window as its TTL. Returns {count, pttl}.
   */
  edgeboxCacheRateLimit: {
    numberOfKeys: 1,
    lua: `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`,
  },
  /**
   * numkeys, then KEYS: one entry per set, per delete, then per get. ARGV: setCount,
   * deleteCount, getCount, then value, contentType, etag, ttl per set. Returns, flat: one integer
   * per set (1 created, 2 replaced), one per delete (1 deleted), then four per get: kind (0
   * missing, 1 value, 2 other type), value, contentType, pttl.
   */
  edgeboxCacheBatch: {
    lua: `${STORE}${KIND}
local ns, nd, ng = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local at = 1
for i = 0, ns - 1 do
  local a = 4 + 4 * i
  local existed = redis.call('EXISTS', KEYS[at])
  store(KEYS[at], ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]))
  out[#out + 1] = existed + 1
  at = at + 1
end
for i = 1, nd do
  out[#out + 1] = redis.call('DEL', KEYS[at])
  at = at + 1
end
for i = 1, ng do
  local key = KEYS[at]
  local k = kind(key)
  if k == 'value' then
    local f = redis.call('HMGET', key, ${F.value}, ${F.type})
    out[#out + 1] = 1
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = redis.call('PTTL', key)
  elseif k == 'string' then
    out[#out + 1] = 1
    out[#out + 1] = redis.call('GET', key)
    out[#out + 1] = false
    out[#out + 1] = redis.call('PTTL', key)
  else
    out[#out + 1] = (k == 'none') and 0 or 2
    out[#out + 1] = false
    out[#out + 1] = false
    out[#out + 1] = 0
  end
  at = at + 1
end
return out
`,
  },
  /**
   * KEYS: spill. ARGV: ttl, the listing's prefix, then the keys left over. Writes the spill list
   * (prefix first, then the keys in SCAN order) with the TTL, in one step so no spill outlives it.
   */
  edgeboxCacheSpillWrite: {
    numberOfKeys: 1,
    lua: `
local k = KEYS[1]
redis.call('DEL', k)
-- unpack in chunks: Lua's stack holds only a few thousand values
for i = 2, #ARGV, 1000 do
  redis.call('RPUSH', k, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', k, ARGV[1])
return 1
`,
  },
  /**
   * KEYS: spill. ARGV: prefix, offset, count, ttl. Returns 0 when the spill is gone (expired or
   * used up), -1 when it belongs to another prefix or the offset is past its end, else
   * {keys from offset (at most count), keys left after them}. Reading renews the TTL and changes
   * nothing else, so a page asked for twice answers the same.
   */
  edgeboxCacheSpillRead: {
    numberOfKeys: 1,
    lua: `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return 0 end
local len = redis.call('LLEN', k)
local first = 1 + tonumber(ARGV[2])
if redis.call('LINDEX', k, 0) ~= ARGV[1] or first >= len then return -1 end
local items = redis.call('LRANGE', k, first, first + tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', k, ARGV[4])
return {items, len - first - #items}
`,
  },
} as const satisfies Record<string, ScriptDefinition>;

/** The name of a script command. */
export type ScriptName = keyof typeof SCRIPTS;
