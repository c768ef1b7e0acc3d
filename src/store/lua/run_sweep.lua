-- run_sweep: the chores of one shard's owner, a few times a second.
-- KEYS[1] = "jw:{s:<n>}". ARGV: now (ms), limit, how long a ready run may
-- wait for the instance that made it before the owner starts it (ms).
-- Delayed runs that are due become ready. Returns {count of runs to start,
-- their members..., then per run whose lease lapsed: member, attempt,
-- phase}. (Starting and finishing happen through run_start/run_finish.)
want_shard_key(); want_time(1); want_int(2, 1, SCAN_MAX, 'limit'); want_int(3, 0, 86400000, 'stale, ms')
local P = KEYS[1]
local now, limit, stale = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {0}
local due = redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(due) do
  local tenant, run_id = string.match(m, '^(.*):([^:]*)$')
  local rk = 'jw:{' .. tenant .. '}:run:' .. run_id
  redis.call('ZREM', P .. ':delayed', m)
  if redis.call('HGET', rk, 'status') == 'delayed' then
    redis.call('HSET', rk, 'status', 'pending')
    redis.call('ZADD', P .. ':ready', now, m)
    out[#out + 1] = m
  end
end
local ready = redis.call('ZRANGEBYSCORE', P .. ':ready', '-inf', now - stale, 'LIMIT', 0, limit)
for _, m in ipairs(ready) do out[#out + 1] = m end
out[1] = #out - 1
local lapsed = redis.call('ZRANGEBYSCORE', P .. ':running', '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(lapsed) do
  local tenant, run_id = string.match(m, '^(.*):([^:]*)$')
  local rk = 'jw:{' .. tenant .. '}:run:' .. run_id
  local st = redis.call('HMGET', rk, 'status', 'attempt', '_phase')
  if st[1] == 'running' then
    out[#out + 1] = m
    out[#out + 1] = st[2]
    out[#out + 1] = st[3] or 'http'
  else
    redis.call('ZREM', P .. ':running', m)
  end
end
return out
