//! The Lua scripts of the Redis tier. Each reads the entity's generation server-side, so a bump is seen by
//! every process at once. KEYS[1] is the generation key; data keys share its hash tag.

use redis::Script;
use std::sync::OnceLock;

/// ARGV: base, then one token per key. Returns the generation, then one value (or nil) per key.
const GET_MANY: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
local out = { g }
for i = 2, #ARGV do
  out[i] = redis.call('GET', ARGV[1] .. ':' .. g .. ':' .. ARGV[i]) or false
end
return out
";

/// ARGV: base, the generation the values were read under ('' for a write-through, which holds committed
/// values and may go to any generation), then (token, rank, payload, ttl ms or 0) per entry, where the rank is
/// the version as 16 hex digits followed by `L` (live) or `T` (tombstone). Writes nothing if the generation
/// moved on (a miss-fill must not carry an old read into a fresh generation); otherwise writes each entry
/// unless the stored rank is the same or higher (a tombstone outranks the live value of the same version).
/// Returns how many were written.
const SET_IF_NEWER: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
if ARGV[2] ~= '' and ARGV[2] ~= g then return 0 end
local written = 0
for i = 3, #ARGV, 4 do
  local k = ARGV[1] .. ':' .. g .. ':' .. ARGV[i]
  local cur = redis.call('GET', k)
  if not cur or string.sub(cur, 1, 17) < ARGV[i + 1] then
    local ttl = tonumber(ARGV[i + 3])
    if ttl > 0 then
      redis.call('SET', k, ARGV[i + 1] .. ARGV[i + 2], 'PX', ttl)
    else
      redis.call('SET', k, ARGV[i + 1] .. ARGV[i + 2])
    end
    written = written + 1
  end
end
return written
";

const BUMP_GENERATION: &str = "return redis.call('INCR', KEYS[1])";

pub(super) fn get_many() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(GET_MANY))
}

pub(super) fn set_if_newer() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(SET_IF_NEWER))
}

pub(super) fn bump_generation() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(BUMP_GENERATION))
}
