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

# Queue keys are built in the scripts from the queue's base, "<p>:q:{name}:".
# An order key's line lists its live items in order; only the first is in the
# ready set, the others are marked held until the one before them leaves.
_LINES = """
local function put(base, id, payload, source, meta, not_before, order_key)
    local item = base .. 'i:' .. id
    if redis.call('EXISTS', item) == 1 then
        return 2
    end
    local seq = redis.call('INCR', base .. 'seq')
    redis.call('HSET', item, 'payload', payload, 'source', source, 'meta', meta,
               'attempt', 0, 'enqueued_at', now, 'seq', seq, 'order_key', order_key)
    if order_key ~= '' and redis.call('RPUSH', base .. 'k:' .. order_key, id) > 1 then
        redis.call('HSET', item, 'held', 1)
        redis.call('INCR', base .. 'held')
        return 1
    end
    redis.call('ZADD', base .. 'ready', at(math.max(now, tonumber(not_before)), seq), id)
    return 1
end

-- The item left its line (acked or buried): the next one, if held, may go.
local function leave_line(base, id, order_key)
    if not order_key or order_key == '' then
        return
    end
    local line = base .. 'k:' .. order_key
    redis.call('LREM', line, 1, id)
    local head = redis.call('LINDEX', line, 0)
    if head then
        local item = base .. 'i:' .. head
        if redis.call('HGET', item, 'held') == '1' then
            redis.call('HDEL', item, 'held')
            redis.call('DECR', base .. 'held')
            redis.call('ZADD', base .. 'ready', at(now, redis.call('HGET', item, 'seq')), head)
        end
    end
end
"""

# The event log: "<p>:e:{ns}:ev:<id>" (a hash), with ":d" (destination -> state)
# and ":a" (attempts, oldest first). Kept without expiry while pending, then
# for the retention after the last change, as the sqlite backend does.
_EVENTS = """
local function keep(ev, status, retention_ms)
    for _, key in ipairs({ev, ev .. ':d', ev .. ':a'}) do
        if status == 'pending' then
            redis.call('PERSIST', key)
        else
            redis.call('PEXPIRE', key, retention_ms)
        end
    end
end

-- One delivery of a logged event: its item in the destination's queue, announced.
-- An item id and meta of its own ("" for none) replace the event's.
local function deliver(prefix, ns, id, payload, meta, queue, order_key, item_id, item_meta)
    if item_id ~= '' then
        id, meta = item_id, item_meta
    end
    put(prefix .. ':q:{' .. queue .. '}:', id, payload, ns, meta, 0, order_key)
    redis.call('SADD', prefix .. ':queues', queue)
    redis.call('PUBLISH', prefix .. ':wake', queue)
end

local function status_of(ev)
    local states = redis.call('HVALS', ev .. ':d')
    if #states == 0 then
        return redis.call('HGET', ev, 'empty_status')
    end
    local dead = false
    for _, state in ipairs(states) do
        if state == 'pending' then
            return 'pending'
        end
        dead = dead or state == 'dead'
    end
    if dead then
        return 'dead'
    end
    return 'delivered'
end

local function record(ev, destination, state, attempt)
    if redis.call('EXISTS', ev) == 0 then
        return
    end
    redis.call('HSET', ev .. ':d', destination, state)
    if attempt ~= '' then
        redis.call('RPUSH', ev .. ':a', attempt)
        redis.call('HINCRBY', ev, 'attempt_count', 1)
    end
    local status = status_of(ev)
    redis.call('HSET', ev, 'status', status)
    keep(ev, status, redis.call('HGET', ev, 'retention_ms'))
end
"""

#: KEYS: queues set, dedup key   ARGV: queue, id, payload, source, meta, not_before ms,
#: dedup ttl ms, queue base, "1" if a dedup key is given, order key, wake channel
#: Returns 0 duplicate by dedup key, 1 enqueued, 2 duplicate by id.
ENQUEUE = (
    _NOW
    + _LINES
    + """
if ARGV[9] == '1' then
    if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[7]) then
        return 0
    end
end
local stored = put(ARGV[8], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[10])
redis.call('SADD', KEYS[1], ARGV[1])
if stored == 1 then
    redis.call('PUBLISH', ARGV[11], ARGV[1])  -- wakes the queue's workers on every replica
end
return stored
"""
)

#: ARGV: prefix, namespace, id, type, payload, event meta, item meta, retention ms,
#:       dedup key ("" for none), dedup ttl ms, empty status, n, then n times:
#:       queue, destination, order key, item id, item meta
#: Returns 0 duplicate by dedup key, 1 published, 2 duplicate by id.
PUBLISH = (
    _NOW
    + _LINES
    + _EVENTS
    + """
local prefix, ns, id = ARGV[1], ARGV[2], ARGV[3]
if ARGV[9] ~= '' then
    if not redis.call('SET', prefix .. ':dedup:' .. ARGV[9], '1', 'NX', 'PX', ARGV[10]) then
        return 0
    end
end
local ebase = prefix .. ':e:{' .. ns .. '}:'
local ev = ebase .. 'ev:' .. id
if redis.call('EXISTS', ev) == 1 then
    return 2
end
local seq = redis.call('INCR', ebase .. 'seq')
local n = tonumber(ARGV[12])
redis.call('HSET', ev, 'type', ARGV[4], 'received_at', now, 'retention_ms', ARGV[8],
           'empty_status', ARGV[11], 'payload', ARGV[5], 'meta', ARGV[6],
           'attempt_count', 0, 'seq', seq)
redis.call('ZADD', ebase .. 'index', seq, id)
for k = 0, n - 1 do
    local at = 13 + k * 5
    redis.call('HSET', ev .. ':d', ARGV[at + 1], 'pending')
    deliver(prefix, ns, id, ARGV[5], ARGV[7], ARGV[at], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4])
end
local status = status_of(ev)
redis.call('HSET', ev, 'status', status)
keep(ev, status, ARGV[8])
-- Forget a few index entries whose events expired, a little further each time.
local from = redis.call('GET', ebase .. 'sweep') or '0'
local swept = redis.call('ZRANGEBYSCORE', ebase .. 'index', '(' .. from, '+inf', 'WITHSCORES',
                         'LIMIT', 0, 4)
local upto = '0'
for i = 1, #swept, 2 do
    if redis.call('EXISTS', ebase .. 'ev:' .. swept[i]) == 0 then
        redis.call('ZREM', ebase .. 'index', swept[i])
    end
    upto = swept[i + 1]
end
redis.call('SET', ebase .. 'sweep', upto)
return 1
"""
)

#: ARGV: prefix, namespace, id, payload, item meta, n, then n times: queue, destination,
#:       order key, item id, item meta.  Returns false if the event is not kept, else the
#:       destinations added.
ROUTE = (
    _NOW
    + _LINES
    + _EVENTS
    + """
local prefix, ns, id = ARGV[1], ARGV[2], ARGV[3]
local ev = prefix .. ':e:{' .. ns .. '}:ev:' .. id
if redis.call('EXISTS', ev) == 0 then
    return false
end
local added = {}
for k = 0, tonumber(ARGV[6]) - 1 do
    local at = 7 + k * 5
    local destination = ARGV[at + 1]
    if redis.call('HSETNX', ev .. ':d', destination, 'pending') == 1 then
        deliver(prefix, ns, id, ARGV[4], ARGV[5], ARGV[at], ARGV[at + 2], ARGV[at + 3],
                ARGV[at + 4])
        table.insert(added, destination)
    end
end
local status = status_of(ev)
redis.call('HSET', ev, 'status', status)
keep(ev, status, redis.call('HGET', ev, 'retention_ms'))
return added
"""
)

#: ARGV: queue base, lease ms, token, limit
#: Returns {next due ms or "", lease expiry ms, {{id, field, value, ...}, ...}}.
CLAIM = (
    _NOW
    + """
local base = ARGV[1]
local ready, leased, tokens = base .. 'ready', base .. 'leased', base .. 'tokens'
-- Expired leases go back to the ready set, claimable since their expiry; the
-- token stays, so the late holder can still finish unless someone claims first.
local expired = redis.call('ZRANGEBYSCORE', leased, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #expired, 2 do
    local seq = redis.call('HGET', base .. 'i:' .. expired[i], 'seq')
    redis.call('ZREM', leased, expired[i])
    redis.call('ZADD', ready, at(math.floor(tonumber(expired[i + 1])), seq), expired[i])
end
-- Due in this millisecond or before, whatever the ordering fraction.
local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', '(' .. (now + 1), 'LIMIT', 0,
                       tonumber(ARGV[4]))
local expires = now + tonumber(ARGV[2])
local taken = {}
for _, id in ipairs(ids) do
    redis.call('ZREM', ready, id)
    redis.call('ZADD', leased, expires, id)
    redis.call('HSET', tokens, id, ARGV[3])
    local item = base .. 'i:' .. id
    redis.call('HINCRBY', item, 'attempt', 1)
    local entry = {id}
    for _, v in ipairs(redis.call('HGETALL', item)) do
        table.insert(entry, v)
    end
    table.insert(taken, entry)
end
local next_due = ''
local later = redis.call('ZRANGEBYSCORE', ready, now + 1, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #later > 0 then
    next_due = later[2]
end
local lease = redis.call('ZRANGE', leased, 0, 0, 'WITHSCORES')
if #lease > 0 and (next_due == '' or tonumber(lease[2]) < tonumber(next_due)) then
    next_due = lease[2]
end
return {next_due, expires, taken}
"""
)

#: ARGV: n, then n times: queue base, id, token, action (ack, nack, bury, release),
#:       retry-at ms, error, event key ("" for none), destination, attempt ("" for none)
#: Returns one 1 (settled) or 0 (lease lost) per settlement.
SETTLE = (
    _NOW
    + _LINES
    + _EVENTS
    + """
local out = {}
for k = 0, tonumber(ARGV[1]) - 1 do
    local o = 1 + k * 9
    local base, id, token, action = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
    local tokens = base .. 'tokens'
    if redis.call('HGET', tokens, id) ~= token then
        table.insert(out, 0)
    else
        redis.call('ZREM', base .. 'leased', id)
        redis.call('ZREM', base .. 'ready', id)
        redis.call('HDEL', tokens, id)
        local item = base .. 'i:' .. id
        local state = 'pending'
        if action == 'ack' then
            local order_key = redis.call('HGET', item, 'order_key')
            redis.call('DEL', item)
            leave_line(base, id, order_key)
            state = 'delivered'
        elseif action == 'bury' then
            redis.call('HSET', item, 'last_error', ARGV[o + 6], 'dead_at', now)
            redis.call('ZADD', base .. 'dead', redis.call('HGET', item, 'seq'), id)
            leave_line(base, id, redis.call('HGET', item, 'order_key'))
            state = 'dead'
        else
            if action == 'release' then
                redis.call('HINCRBY', item, 'attempt', -1)
            else
                redis.call('HSET', item, 'last_error', ARGV[o + 6])
            end
            local due = math.max(now, tonumber(ARGV[o + 5]))
            redis.call('ZADD', base .. 'ready', at(due, redis.call('HGET', item, 'seq')), id)
        end
        if ARGV[o + 7] ~= '' then
            record(ARGV[o + 7], ARGV[o + 8], state, ARGV[o + 9])
        end
        table.insert(out, 1)
    end
end
return out
"""
)

#: ARGV: queue base, id, wake channel, queue.
#: Returns 1 made due now, 0 already due, leased or held, -1 not live.
EXPEDITE = (
    _NOW
    + """
local base, id = ARGV[1], ARGV[2]
local item = base .. 'i:' .. id
if redis.call('EXISTS', item) == 0 or redis.call('ZSCORE', base .. 'dead', id) then
    return -1
end
local score = redis.call('ZSCORE', base .. 'ready', id)
if not score or tonumber(score) < now + 1 then
    return 0
end
redis.call('ZADD', base .. 'ready', at(now, redis.call('HGET', item, 'seq')), id)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""
)

#: ARGV: queue base, limit, id (or "" for the oldest `limit`), wake channel, queue
#: Returns how many were moved back; each goes to the back of its order key's line.
REPLAY = (
    _NOW
    + """
local base = ARGV[1]
local dead = base .. 'dead'
local ids
if ARGV[3] ~= '' then
    ids = {ARGV[3]}
else
    ids = redis.call('ZRANGE', dead, 0, tonumber(ARGV[2]) - 1)
end
local moved = 0
for _, id in ipairs(ids) do
    if redis.call('ZREM', dead, id) == 1 then
        local item = base .. 'i:' .. id
        redis.call('HSET', item, 'attempt', 0)
        redis.call('HDEL', item, 'dead_at')
        local order_key = redis.call('HGET', item, 'order_key') or ''
        if order_key ~= '' and redis.call('RPUSH', base .. 'k:' .. order_key, id) > 1 then
            redis.call('HSET', item, 'held', 1)
            redis.call('INCR', base .. 'held')
        else
            redis.call('ZADD', base .. 'ready', at(now, redis.call('HGET', item, 'seq')), id)
        end
        moved = moved + 1
    end
end
if moved > 0 then
    redis.call('PUBLISH', ARGV[4], ARGV[5])
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

#: ARGV: queue base   Returns {ready, leased, delayed, dead, held}.
COUNTS = (
    _NOW
    + """
local base = ARGV[1]
local ready, leased = base .. 'ready', base .. 'leased'
local expired = redis.call('ZCOUNT', leased, '-inf', now)
return {
    redis.call('ZCOUNT', ready, '-inf', '(' .. (now + 1)) + expired,
    redis.call('ZCARD', leased) - expired,
    redis.call('ZCOUNT', ready, now + 1, '+inf'),
    redis.call('ZCARD', base .. 'dead'),
    tonumber(redis.call('GET', base .. 'held') or '0'),
}
"""
)

#: ARGV: namespace base, before seq (0: newest), limit, status, type, destination, scan cap
#: Returns {next cursor, {{id, seq, type, received_at, status, attempts, {dest, state, ...}}}}.
EVENTS = """
local ebase, limit, cap = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[7])
local index = ebase .. 'index'
local upper = '+inf'
if tonumber(ARGV[2]) > 0 then
    upper = '(' .. ARGV[2]
end
local found, scanned, last, more = {}, 0, nil, false
while not more and scanned < cap do
    local chunk = redis.call('ZREVRANGEBYSCORE', index, upper, '-inf', 'WITHSCORES',
                             'LIMIT', 0, 100)
    if #chunk == 0 then
        last = nil
        break
    end
    for i = 1, #chunk, 2 do
        local id, seq = chunk[i], chunk[i + 1]
        local ev = ebase .. 'ev:' .. id
        local f = redis.call('HMGET', ev, 'type', 'received_at', 'status', 'attempt_count')
        local wanted = f[1] ~= false
        if not wanted then
            redis.call('ZREM', index, id)  -- its event expired
        end
        local state = f[3]
        if wanted and ARGV[5] ~= '' and f[1] ~= ARGV[5] then
            wanted = false
        end
        if wanted and ARGV[6] ~= '' then
            state = redis.call('HGET', ev .. ':d', ARGV[6])
            wanted = state ~= false
        end
        if wanted and ARGV[4] ~= '' and state ~= ARGV[4] then
            wanted = false
        end
        if wanted then
            if #found == limit then
                more = true
                break
            end
            table.insert(found, {id, seq, f[1], f[2], f[3], f[4],
                                 redis.call('HGETALL', ev .. ':d')})
        end
        scanned = scanned + 1
        last = seq
        if scanned >= cap then
            break
        end
    end
    upper = '(' .. (last or '-inf')
end
local cursor = '0'
if more then
    cursor = found[#found][2]
elseif scanned >= cap and last then
    cursor = last
end
return {cursor, found}
"""

#: ARGV: event key.  Returns false, or {{field, value, ...}, {dest, state, ...}, {attempt, ...}}.
EVENT = """
local ev = ARGV[1]
local fields = redis.call('HGETALL', ev)
if #fields == 0 then
    return false
end
return {fields, redis.call('HGETALL', ev .. ':d'), redis.call('LRANGE', ev .. ':a', 0, -1)}
"""

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
#: KEYS: key   ARGV: value.  Deletes the key only while it holds the value; 1 if it did.
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

#: KEYS: offset key, history key   ARGV: topic, data (JSON), history size, history ttl ms,
#: now in µs, channel, now in ms, offset ttl ms.  Returns the frame's offset.
TOPIC_PUBLISH = """
local offset = redis.call('INCR', KEYS[1])
if offset == 1 then
    -- A new topic, or one Redis forgot: offsets go on from the time of day in
    -- microseconds, so they only grow and an old offset reads as history lost.
    offset = tonumber(ARGV[5])
    redis.call('SET', KEYS[1], string.format('%d', offset))
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
local number = string.format('%d', offset)
local frame = '{"type":"message","topic":"' .. ARGV[1] .. '","offset":' .. number
              .. ',"data":' .. ARGV[2] .. '}'
local size = tonumber(ARGV[3])
if size > 0 then
    redis.call('RPUSH', KEYS[2], number .. ' ' .. ARGV[7] .. ' ' .. frame)
    redis.call('LTRIM', KEYS[2], -size, -1)
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', ARGV[6], ARGV[1] .. ' ' .. number .. ' ' .. frame)
return offset
"""

#: KEYS: offset key, history key   ARGV: now in µs, offset ttl ms.
#: Returns {last offset, kept entries}. A topic without an offset gets one (now - 1,
#: so its first frame is "now"): a client's offset from before then reads as lost.
TOPIC_HISTORY = """
local last = redis.call('GET', KEYS[1])
if not last then
    last = string.format('%d', tonumber(ARGV[1]) - 1)
    redis.call('SET', KEYS[1], last, 'PX', ARGV[2])
end
return {last, redis.call('LRANGE', KEYS[2], 0, -1)}
"""

ALL = {
    "ENQUEUE": ENQUEUE,
    "PUBLISH": PUBLISH,
    "ROUTE": ROUTE,
    "DELETE_IF": DELETE_IF,
    "TOPIC_PUBLISH": TOPIC_PUBLISH,
    "TOPIC_HISTORY": TOPIC_HISTORY,
    "CLAIM": CLAIM,
    "SETTLE": SETTLE,
    "EXPEDITE": EXPEDITE,
    "REPLAY": REPLAY,
    "EVENTS": EVENTS,
    "EVENT": EVENT,
    "DELETE_DEAD": DELETE_DEAD,
    "DEAD": DEAD,
    "COUNTS": COUNTS,
    "QUEUES": QUEUES,
    "RESERVE": RESERVE,
    "HOLD": HOLD,
}
