//! The Lua scripts of the Redis tier. Each reads the generation of one bucket of the entity (its only bucket on a
//! single server) server-side, so a bump is seen by every process at once. KEYS[1] is the bucket's generation
//! key; data keys share its hash tag (one slot), and are built
//! from the generation inside the script, so they are not declared (Redis 7 allows undeclared keys of the
//! declared key's slot in scripts without a shebang).
//!
//! The generation record is `<generation> <history>`, where the history is the node's replication ID
//! (`master_replid` of `INFO replication`). Redis gives a node a new replication ID when it is promoted from
//! replica to master and when it restarts, and a slot that moves lands on a node with another one. Each of
//! those may have lost writes the entries depend on (asynchronous replication, an older snapshot, a migration
//! racing a write-through), and none of them needs to break a client's connection: the cluster client follows
//! `MOVED` and reconnects on its own. So every script checks the record's history against its node's first and,
//! when they differ, starts a new generation before it reads or writes anything: entries made in another
//! history are never served, by any process, whether or not its client saw an error.
//!
//! On a single server the reads skip the scripts once one has checked the record on the current connection: a
//! plain `MGET` of the record and the data keys is a hit when the record is the one the script returned (see
//! `RedisEntity::get_chunk`); the history can only change there with a restart, which breaks the connection.

use redis::Script;
use std::sync::OnceLock;

/// Defines `generation(force)`: the current generation and the record naming it, after starting the next one
/// when `force` is set or when the record was made in another history than this node's. Without a record the
/// generation is 0 (and the record is made, naming this node's history). The replication ID is found with a
/// plain `string.find` (it is always 40 hex digits), cheaper than a pattern over the whole `INFO` text.
const GENERATION: &str = r"
local function generation(force)
  local info = redis.call('INFO', 'replication')
  local at = string.find(info, 'master_replid:', 1, true)
  local history = at and string.sub(info, at + 14, at + 53) or '-'
  local record = redis.call('GET', KEYS[1])
  local old, made_in = '0', history
  if record then
    old, made_in = string.match(record, '^(%d+) ?(%S*)$')
    old = old or '0'
  end
  if record and made_in == history and not force then
    return old, record
  end
  local g = old
  if record then
    g = string.format('%d', tonumber(old) + 1)
  end
  record = g .. ' ' .. history
  redis.call('SET', KEYS[1], record)
  return g, record
end
";

/// ARGV: base, then one token per key. Returns the generation, the generation record (what
/// `RedisEntity::get_chunk` compares a plain `MGET`'s record with afterwards), then one value (or nil) per key.
const GET_MANY: &str = r"
local g, record = generation(false)
local out = { g, record }
for i = 2, #ARGV do
  out[i + 1] = redis.call('GET', ARGV[1] .. ':' .. g .. ':' .. ARGV[i]) or false
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
local g = generation(false)
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

/// Starts a new generation (after a failure this process saw). Returns it.
const BUMP_GENERATION: &str = "local g = generation(true) return g";

fn with_generation(body: &str) -> Script {
    Script::new(&format!("{GENERATION}{body}"))
}

pub(super) fn get_many() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| with_generation(GET_MANY))
}

pub(super) fn set_if_newer() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| with_generation(SET_IF_NEWER))
}

pub(super) fn bump_generation() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| with_generation(BUMP_GENERATION))
}
