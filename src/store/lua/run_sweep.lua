-- run_sweep: the chores of one shard's owner, a few times a second.
-- KEYS[1] = "jw:{s:<n>}". ARGV: now (ms), limit, how long a ready run may
-- wait for the instance that made it before the owner starts it (ms).
-- Delayed runs that are due become ready; ready runs nobody started are
-- offered again. Both come from the tenants' own queues, each tenant with
-- work getting its share of `limit` in every sweep (the ready ones in
-- turn, from the tenant after the one served last, when more tenants have
-- work than `limit`), so one tenant's backlog never stands before another
-- tenant's runs. Returns {count of runs to start, the shard's next due
-- time of a delayed run (ms, -1: none), the members of the runs to
-- start..., then per run whose lease lapsed: member, attempt, phase}.
-- (Starting and finishing happen through run_start/run_finish.)
want_shard_key(); want_time(1); want_int(2, 1, SCAN_MAX, 'limit'); want_int(3, 0, 86400000, 'stale, ms')
local P = KEYS[1]
local now, stale = tonumber(ARGV[1]), tonumber(ARGV[3])
local limit = math.max(1, math.min(tonumber(ARGV[2]) or 1, 1000)) -- a loop bound: capped
local out = {0, -1}
local READY_TENANTS, TURN = P .. ':ready_tenants', P .. ':ready_turn'
local parts = member_parts
local function k_run_of(tenant, run_id) return 'jw:{' .. tenant .. '}:run:' .. run_id end
local ready_listed = {} -- tenants this call listed
local function ready(tenant, score, m) shard_ready(P, tenant, score, m, ready_listed) end

-- Runs earlier builds queued in one set for all tenants go to their
-- tenant's queue (a rolling upgrade: they keep coming while old instances run).
for _, kind in ipairs({'ready', 'delayed'}) do
  local old = redis.call('ZRANGE', P .. ':' .. kind, 0, limit - 1, 'WITHSCORES')
  for i = 1, #old, 2 do
    local m, score = old[i], old[i + 1]
    local tenant = parts(m)
    if tenant and kind == 'ready' then
      ready(tenant, score, m)
    elseif tenant then
      redis.call('ZADD', P .. ':delayed:' .. tenant, score, m)
      redis.call('ZADD', P .. ':delayed_tenants', 'LT', score, tenant)
    end
    redis.call('ZREM', P .. ':' .. kind, m)
  end
end

-- Due delayed runs: every tenant with some due, its share of them (the
-- instances' clocks of due times promote them at their time; this is the
-- backstop), and the shard's next due time for this owner's clock.
local _, next_due = shard_promote(P, now, limit, out, ready_listed)
out[2] = next_due

-- Ready runs waiting longer than `stale`: the tenants in turn, each its
-- oldest, up to its share. A run found there that is no longer pending
-- or delayed (an earlier build started or ended it) leaves the queue.
if redis.call('ZCARD', READY_TENANTS) > 0 then
  local last = redis.call('GET', TURN)
  local from = last and '(' .. last or '-'
  local turn = redis.call('ZRANGE', READY_TENANTS, from, '+', 'BYLEX', 'LIMIT', 0, limit)
  if last and #turn < limit then -- on from the first
    local more = redis.call('ZRANGE', READY_TENANTS, '-', '[' .. last, 'BYLEX', 'LIMIT', 0, limit - #turn)
    for _, t in ipairs(more) do turn[#turn + 1] = t end
  end
  local share = math.floor(limit / math.max(#turn, 1))
  local served = last
  for _, tenant in ipairs(turn) do
    local q = P .. ':ready:' .. tenant
    local found = redis.call('ZRANGEBYSCORE', q, '-inf', now - stale, 'LIMIT', 0, share)
    for _, m in ipairs(found) do
      local _, run_id = parts(m)
      local status = redis.call('HGET', k_run_of(tenant, run_id), 'status')
      if status == 'pending' or status == 'delayed' then -- (delayed: promoted ahead of its time, see run_promote)
        out[#out + 1] = m
      else
        redis.call('ZREM', q, m)
      end
    end
    if #found == 0 and redis.call('EXISTS', q) == 0 then redis.call('ZREM', READY_TENANTS, tenant) end
    served = tenant
  end
  if served ~= last then redis.call('SET', TURN, served) end
end
out[1] = #out - 2

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
