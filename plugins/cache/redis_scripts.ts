/**
 * The Lua scripts behind the Redis driver. Each operation that touches more than one key (a
 * value and its content type) or reads then writes (create-if-absent, counters, hash limits,
 * rate limits) is one script, so Redis runs it atomically in one round trip.
 *
 * A value lives at `<prefix><key>` as a plain Redis string (so `redis-cli GET` shows its bytes);
 * its content type, when not application/octet-stream, at `<prefix>\0ct:<key>` with the same TTL.
 * A listing page that SCAN overfilled keeps the keys left over in a spill list at
 * `<prefix>\0ls:<id>` (its first element the listing's prefix), for a few minutes, so the
 * cursor carries only the spill's id and not the keys.
 */
import { DEFAULT_CONTENT_TYPE } from "./driver.ts";

/** Stores a value and its content type ('' for the default) with a TTL (0: none). */
const STORE = `
local function store(key, meta, value, ct, ttl)
  if ttl > 0 then redis.call('SET', key, value, 'PX', ttl) else redis.call('SET', key, value) end
  if ct == '' then redis.call('DEL', meta)
  elseif ttl > 0 then redis.call('SET', meta, ct, 'PX', ttl)
  else redis.call('SET', meta, ct) end
end
`;

/**
 * The entity tag of the value under `key` (see etag.ts: the SHA-1 of the content type, a newline
 * and the bytes), false when the key is absent, '' when it holds something else (a hash).
 */
const ETAG = `
local function etag(key, meta)
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then return false end
  if t ~= 'string' then return '' end
  local ct = redis.call('GET', meta) or '${DEFAULT_CONTENT_TYPE}'
  return '"' .. redis.sha1hex(ct .. '\\n' .. redis.call('GET', key)) .. '"'
end
`;

/**
 * Whether an If-Match condition holds for `key`: ARGV[first] is '0' (no condition), '*' (the key
 * holds anything) or 'L' (its tag is one of ARGV[first + 1 ..], compared exactly).
 */
const IF_MATCH = `${ETAG}
local function if_match(key, meta, first)
  local mode = ARGV[first]
  if mode == '0' then return true end
  if mode == '*' then return redis.call('EXISTS', key) == 1 end
  local tag = etag(key, meta)
  if not tag or tag == '' then return false end
  for i = first + 1, #ARGV do
    if ARGV[i] == tag then return true end
  end
  return false
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
  /** KEYS: value, meta. Returns nil, or {value, contentType|nil, pttl}. */
  edgeboxCacheGet: {
    numberOfKeys: 2,
    lua: `
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[1])}
`,
  },
  /**
   * KEYS: value, meta. Returns nil, or {size, contentType|nil, pttl, etag}: the tag is hashed
   * here so HEAD never carries the bytes.
   */
  edgeboxCacheStat: {
    numberOfKeys: 2,
    lua: `${ETAG}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return {
  redis.call('STRLEN', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[1]),
  etag(KEYS[1], KEYS[2])
}
`,
  },
  /**
   * KEYS: value, meta. ARGV: value, contentType, ttl, ifAbsent ('1'), then an If-Match
   * condition (see IF_MATCH). Returns 0 (exists, nothing written), 1 (created), 2 (replaced) or
   * 3 (If-Match failed, nothing written).
   */
  edgeboxCacheSet: {
    numberOfKeys: 2,
    lua: `${STORE}${IF_MATCH}
if not if_match(KEYS[1], KEYS[2], 5) then return 3 end
local existed = redis.call('EXISTS', KEYS[1])
if existed == 1 and ARGV[4] == '1' then return 0 end
store(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return existed + 1
`,
  },
  /**
   * KEYS: value, meta. ARGV: an If-Match condition (see IF_MATCH). Returns 1 when the key
   * existed and was deleted, 0 when it did not exist, 2 when it exists but If-Match failed.
   */
  edgeboxCacheDelete: {
    numberOfKeys: 2,
    lua: `${IF_MATCH}
if not if_match(KEYS[1], KEYS[2], 1) then return redis.call('EXISTS', KEYS[1]) * 2 end
local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return n
`,
  },
  /**
   * KEYS: value, meta. ARGV: by, ttl (0: none), contentType. INCRBY fails (before any write) on
   * a value that is not an integer; a counter it creates gets the TTL and content type.
   */
  edgeboxCacheIncr: {
    numberOfKeys: 2,
    lua: `
local created = redis.call('EXISTS', KEYS[1]) == 0
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then
  local ttl = tonumber(ARGV[2])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
  else
    redis.call('SET', KEYS[2], ARGV[3])
  end
end
return n
`,
  },
  /** KEYS: hash. Returns nil, or {{field, value, ...}, pttl}. */
  edgeboxCacheGetHash: {
    numberOfKeys: 1,
    lua: `
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return false end
return {f, redis.call('PTTL', KEYS[1])}
`,
  },
  /**
   * KEYS: hash. ARGV: ttl, defaultTtl, maxFields, setCount, then setCount field/value pairs,
   * then the fields to delete. Returns {size, created} or {-1, size} when over maxFields (and
   * then writes nothing). HLEN fails with WRONGTYPE on a value before anything is written.
   */
  edgeboxCachePatchHash: {
    numberOfKeys: 1,
    lua: `
local k = KEYS[1]
local ttl, default, max, nset = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local before = redis.call('HLEN', k)
local size = before
local firstDel = 5 + 2 * nset
for i = 5, firstDel - 1, 2 do
  if redis.call('HEXISTS', k, ARGV[i]) == 0 then size = size + 1 end
end
for i = firstDel, #ARGV do
  if redis.call('HEXISTS', k, ARGV[i]) == 1 then size = size - 1 end
end
if size > max then return {-1, size} end
-- unpack in chunks: Lua's stack holds only a few thousand values
for i = 5, firstDel - 1, 200 do
  redis.call('HSET', k, unpack(ARGV, i, math.min(i + 199, firstDel - 1)))
end
for i = firstDel, #ARGV, 100 do
  redis.call('HDEL', k, unpack(ARGV, i, math.min(i + 99, #ARGV)))
end
if size > 0 then
  if ttl > 0 then redis.call('PEXPIRE', k, ttl)
  elseif before == 0 and default > 0 then redis.call('PEXPIRE', k, default) end
end
if before == 0 and size > 0 then return {size, 1} end
return {size, 0}
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
   * numkeys, then KEYS: value/meta pairs for the sets, the deletes, then the gets. ARGV:
   * setCount, deleteCount, getCount, then value, contentType, ttl per set. Returns, flat: one
   * integer per set (1 created, 2 replaced), one per delete (1 deleted), then four per get:
   * kind (0 missing, 1 value, 2 other type), value, contentType, pttl.
   */
  edgeboxCacheBatch: {
    lua: `${STORE}
local ns, nd, ng = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local k = 1
for i = 0, ns - 1 do
  local a = 4 + 3 * i
  local existed = redis.call('EXISTS', KEYS[k])
  store(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]))
  out[#out + 1] = existed + 1
  k = k + 2
end
for i = 1, nd do
  out[#out + 1] = redis.call('DEL', KEYS[k])
  redis.call('DEL', KEYS[k + 1])
  k = k + 2
end
for i = 1, ng do
  local t = redis.call('TYPE', KEYS[k])['ok']
  if t == 'string' then
    out[#out + 1] = 1
    out[#out + 1] = redis.call('GET', KEYS[k])
    out[#out + 1] = redis.call('GET', KEYS[k + 1])
    out[#out + 1] = redis.call('PTTL', KEYS[k])
  else
    out[#out + 1] = (t == 'none') and 0 or 2
    out[#out + 1] = false
    out[#out + 1] = false
    out[#out + 1] = 0
  end
  k = k + 2
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
