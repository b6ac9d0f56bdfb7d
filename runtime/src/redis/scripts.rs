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
/// when `force` is set or when the record was made in another history than this node's. Without a record (a
/// new entity, or a record evicted under an `allkeys-*` memory policy or deleted) the generation is the
/// server's clock in microseconds, not 0: a record that vanished must not bring back the numbers it had
/// counted through, whose entries may still be alive and may have missed writes. The replication ID is found
/// with a plain `string.find` (it is always 40 hex digits), cheaper than a pattern over the whole `INFO` text.
const GENERATION: &str = r"
local function generation(force)
  local info = redis.call('INFO', 'replication')
  local at = string.find(info, 'master_replid:', 1, true)
  local history = at and string.sub(info, at + 14, at + 53) or '-'
  local record = redis.call('GET', KEYS[1])
  local old, made_in
  if record then
    old, made_in = string.match(record, '^(%d+) ?(%S*)$')
  end
  if old and made_in == history and not force then
    return old, record
  end
  local g
  if old then
    g = string.format('%d', tonumber(old) + 1)
  else
    local now = redis.call('TIME')
    g = now[1] .. string.format('%06d', tonumber(now[2]))
  end
  record = g .. ' ' .. history
  redis.call('SET', KEYS[1], record)
  return g, record
end
";

/// ARGV: base, then one token per key. Returns the generation, its record (what fills and write-throughs carry,
/// and `RedisEntity::get_chunk` compares a plain `MGET`'s record with afterwards), then one value (or nil) per
/// key.
const GET_MANY: &str = r"
local g, record = generation(false)
local out = { g, record }
for i = 2, #ARGV do
  out[i + 1] = redis.call('GET', ARGV[1] .. ':' .. g .. ':' .. ARGV[i]) or false
end
return out
";

/// ARGV: base; `f` for a miss-fill or `w` for a write-through of committed values; the generation record the
/// fill read under, or the one the writer had seen before its store commit ('' if none, see `observed.rs`); the
/// fence TTL in ms; then (token, rank, payload, ttl ms or 0) per entry, where the rank is the version as 16 hex
/// digits followed by `L` (live) or `T` (tombstone).
///
/// A fill writes nothing if the generation moved on (a miss-fill must not carry an old read into a fresh
/// generation). A write-through may create a value only if the generation is still the one its writer had
/// seen before the commit. Both compare the whole record, not the number: a promoted replica that missed the
/// bump which made generation g holds g - 1 and starts "g" again under its own history; otherwise it updates a value that is there and, where there is none or only a
/// fence, leaves a fence: its version with kind `F` and no value, which readers take for a miss and which no
/// fill of an older read can pass. Each entry is written unless the stored rank is the same or higher (a
/// tombstone outranks the live value of its version, which outranks a fence). Returns the record.
const SET_IF_NEWER: &str = r"
local g, record = generation(false)
local fill = ARGV[2] == 'f'
if fill and ARGV[3] ~= record then return record end
local creates = fill or ARGV[3] == record
for i = 5, #ARGV, 4 do
  local k = ARGV[1] .. ':' .. g .. ':' .. ARGV[i]
  local cur = redis.call('GET', k)
  local rank, payload, ttl = ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  if not creates and (not cur or string.byte(cur, 17) == 70) then
    rank, payload, ttl = string.sub(rank, 1, 16) .. 'F', '', tonumber(ARGV[4])
  end
  if not cur or string.sub(cur, 1, 17) < rank then
    if ttl > 0 then
      redis.call('SET', k, rank .. payload, 'PX', ttl)
    else
      redis.call('SET', k, rank .. payload)
    end
  end
end
return record
";

/// Starts a new generation (after a failure this process saw). Returns its record.
const BUMP_GENERATION: &str = "local g, record = generation(true) return record";

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
