"""Lua scripts that make each multi-step Redis operation atomic.

Why sorted sets and not streams: a queue here needs per-item delays
(not-before and retry times), leases that expire, and a dead-letter set with
replay. A sorted set scored by "claimable at" (milliseconds, Redis server
time) gives delays and FIFO order in one structure, and a second one scored
by lease expiry gives visibility timeouts; streams with consumer groups would
still need a sorted set for the delays, and their idle-time reclaim cannot
tell a slow worker from a delayed retry. Every script reads the clock from
the server (``TIME``), so replicas with skewed clocks agree on leases.

Keys of one queue share the hash tag ``{queue}`` (a script's keys must share
a slot); the set of queue names is global, so Redis Cluster is not supported
yet. Per queue:

- ``<p>:q:{name}:ready``   ZSET id -> claimable-at ms (ready and delayed); the
  fraction orders items due in the same millisecond by their sequence number
- ``<p>:q:{name}:leased``  ZSET id -> lease expiry ms
- ``<p>:q:{name}:tokens``  HASH id -> token of the last claim; a lease holds until
  the item is claimed again, acked, nacked or buried (as in the sqlite backend)
- ``<p>:q:{name}:dead``    ZSET id -> sequence number (oldest first)
- ``<p>:q:{name}:seq``     the queue's sequence counter
- ``<p>:q:{name}:i:<id>``  HASH payload, source, meta, attempt, enqueued_at, seq,
  last_error, dead_at
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- A score: due at ms, then first in, first out within the millisecond.
local function at(ms, seq)
    return ms + (tonumber(seq) % 4096) / 4096
end
"""

# Expired leases go back to the ready set, claimable since their expiry; the
# token stays, so the late holder can still finish unless someone claims first.
_RECLAIM = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
for i = 1, #expired, 2 do
    local seq = redis.call('HGET', ARGV[3] .. expired[i], 'seq')
    redis.call('ZREM', KEYS[2], expired[i])
    redis.call('ZADD', KEYS[1], at(math.floor(tonumber(expired[i + 1])), seq), expired[i])
end
"""

#: KEYS: ready, queues set, the queue's sequence counter, dedup key
#: ARGV: queue, id, payload, source, meta, not_before ms, dedup ttl ms, item key
#:       prefix, "1" if a dedup key is given
#: Returns 0 duplicate by dedup key, 1 enqueued, 2 duplicate by id.
ENQUEUE = (
    _NOW
    + """
if ARGV[9] == '1' then
    if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[7]) then
        return 0
    end
end
local item = ARGV[8] .. ARGV[2]
if redis.call('EXISTS', item) == 1 then
    return 2
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', item, 'payload', ARGV[3], 'source', ARGV[4], 'meta', ARGV[5],
           'attempt', 0, 'enqueued_at', now, 'seq', seq)
redis.call('ZADD', KEYS[1], at(math.max(now, tonumber(ARGV[6])), seq), ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
)

#: KEYS: ready, leased, tokens
#: ARGV: lease ms, token, item key prefix
#: Returns false, or {id, expires_at ms, field, value, ...}.
CLAIM = (
    _NOW
    + _RECLAIM
    + """
-- Due in this millisecond or before, whatever the ordering fraction.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now + 1), 'LIMIT', 0, 1)
if #ids == 0 then
    return false
end
local id = ids[1]
local expires = now + tonumber(ARGV[1])
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[2], expires, id)
redis.call('HSET', KEYS[3], id, ARGV[2])
local item = ARGV[3] .. id
redis.call('HINCRBY', item, 'attempt', 1)
local reply = {id, expires}
for _, v in ipairs(redis.call('HGETALL', item)) do
    table.insert(reply, v)
end
return reply
"""
)

# KEYS start with: leased, tokens, ready.  ARGV start with: id, token, item key.
_HOLDS_LEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
    return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
"""

#: KEYS: leased, tokens, ready   ARGV: id, token, item key.  Returns 1, or 0 if the lease is lost.
ACK = (
    _HOLDS_LEASE
    + """
redis.call('DEL', ARGV[3])
return 1
"""
)

#: KEYS: leased, tokens, ready   ARGV: id, token, item key, retry-at ms, error
NACK = (
    _NOW
    + _HOLDS_LEASE
    + """
redis.call('HSET', ARGV[3], 'last_error', ARGV[5])
local seq = redis.call('HGET', ARGV[3], 'seq')
redis.call('ZADD', KEYS[3], at(math.max(now, tonumber(ARGV[4])), seq), ARGV[1])
return 1
"""
)

#: KEYS: leased, tokens, ready, dead   ARGV: id, token, item key, error
BURY = (
    _NOW
    + _HOLDS_LEASE
    + """
redis.call('HSET', ARGV[3], 'last_error', ARGV[4], 'dead_at', now)
redis.call('ZADD', KEYS[4], redis.call('HGET', ARGV[3], 'seq'), ARGV[1])
return 1
"""
)

#: KEYS: dead, ready   ARGV: item key prefix, limit, id (or "" for the oldest `limit`)
#: Returns how many were moved back to ready.
REPLAY = (
    _NOW
    + """
local ids
if ARGV[3] ~= '' then
    ids = {ARGV[3]}
else
    ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
local moved = 0
for _, id in ipairs(ids) do
    if redis.call('ZREM', KEYS[1], id) == 1 then
        local item = ARGV[1] .. id
        redis.call('HSET', item, 'attempt', 0)
        redis.call('HDEL', item, 'dead_at')
        redis.call('ZADD', KEYS[2], at(now, redis.call('HGET', item, 'seq')), id)
        moved = moved + 1
    end
end
return moved
"""
)

#: KEYS: dead   ARGV: id, item key   Returns 1, or 0 if not a dead letter.
DELETE_DEAD = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
    return 0
end
redis.call('DEL', ARGV[2])
return 1
"""

#: KEYS: dead   ARGV: item key prefix, after seq, limit, id (or "" to list)
#: Returns {{id, {field, value, ...}}, ...}.
DEAD = """
local ids
if ARGV[4] ~= '' then
    if not redis.call('ZSCORE', KEYS[1], ARGV[4]) then
        return {}
    end
    ids = {ARGV[4]}
else
    ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
end
local reply = {}
for _, id in ipairs(ids) do
    table.insert(reply, {id, redis.call('HGETALL', ARGV[1] .. id)})
end
return reply
"""

#: KEYS: ready, leased, dead   Returns {ready, leased, delayed, dead}.
COUNTS = (
    _NOW
    + """
local expired = redis.call('ZCOUNT', KEYS[2], '-inf', now)
return {
    redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. (now + 1)) + expired,
    redis.call('ZCARD', KEYS[2]) - expired,
    redis.call('ZCOUNT', KEYS[1], now + 1, '+inf'),
    redis.call('ZCARD', KEYS[3]),
}
"""
)

#: KEYS: queues set   ARGV: key prefix
#: Returns the names of queues holding at least one item, forgetting the others.
QUEUES = """
local names = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local base = ARGV[1] .. ':q:{' .. name .. '}:'
    local held = redis.call('ZCARD', base .. 'ready') + redis.call('ZCARD', base .. 'leased')
        + redis.call('ZCARD', base .. 'dead')
    if held > 0 then
        table.insert(names, name)
    else
        redis.call('SREM', KEYS[1], name)
    end
end
return names
"""

#: KEYS: the budget's TAT, its pause   ARGV: interval ms, tolerance ms, "1" to wait
#: GCRA on the server's clock, shared by every replica: returns {granted, delay ms}
#: (as strings: Lua numbers would be cut to integers on the way out).
RESERVE = (
    _NOW
    + """
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local start = math.max(now, base - tolerance, tonumber(redis.call('GET', KEYS[2]) or 0))
local delay = start - now
if delay > 0 and ARGV[3] ~= '1' then
    return {'0', tostring(delay)}
end
local tat = math.max(base, start) + interval
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now + tolerance) + 1000)
return {'1', tostring(delay)}
"""
)

#: KEYS: the budget's pause   ARGV: pause ms.  Extends the pause, never shortens it.
HOLD = (
    _NOW
    + """
local till = now + tonumber(ARGV[1])
if till > tonumber(redis.call('GET', KEYS[1]) or 0) then
    redis.call('SET', KEYS[1], tostring(till), 'PX', math.ceil(tonumber(ARGV[1])) + 1000)
end
return 1
"""
)

#: Every script, by name, as the backend loads them.
ALL = {
    "ENQUEUE": ENQUEUE,
    "CLAIM": CLAIM,
    "ACK": ACK,
    "NACK": NACK,
    "BURY": BURY,
    "REPLAY": REPLAY,
    "DELETE_DEAD": DELETE_DEAD,
    "DEAD": DEAD,
    "COUNTS": COUNTS,
    "QUEUES": QUEUES,
    "RESERVE": RESERVE,
    "HOLD": HOLD,
}
