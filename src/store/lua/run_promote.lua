-- run_promote: a shard's delayed runs that are due become ready, now — an
-- instance's clock of due times went off for the shard (exec/due.c) — and
-- the runs of a burst coming due are promoted ahead of their time.
-- KEYS[1] = "jw:{s:<n>}". ARGV: now (ms), limit, and optionally how far
-- ahead to look (ms, up to AHEAD_MAX) and the time the instance needs to
-- start one run (µs).
-- Ahead: when the runs due within the look-ahead are so many that starting
-- them from their time on would take longer than the time left (their
-- number times the time a run), those due within that lead go to the ready
-- queue now, scored at their time, still `delayed`: run_start starts each
-- at its time (its attempt and lease begin then) and the instance makes
-- the call then. A few runs are never started early.
-- Returns {more (1: call again now), when to call next (ms, -1: nothing is
-- delayed), the number of members due, the members due..., the members
-- promoted ahead...}: the caller starts them all.
want_shard_key(); want_time(1); want_int(2, 1, SCAN_MAX, 'limit')
local ahead = ARGV[3] and want_int(3, 0, AHEAD_MAX, 'ahead, ms') or 0
local per_run = ARGV[4] and want_int(4, 0, 1000000, 'a start, us') or 0
local P, now, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {0, -1, 0}
local more, next_due = shard_promote(P, now, limit, out)
out[3] = #out - 3
local room = limit - out[3]
if not more and next_due > now and next_due <= now + ahead and room > 0 then
  local listed_at = P .. ':delayed_tenants'
  local tenants = redis.call('ZRANGEBYSCORE', listed_at, '-inf', now + ahead)
  local n = 0
  for _, tenant in ipairs(tenants) do n = n + redis.call('ZCOUNT', P .. ':delayed:' .. tenant, '-inf', now + ahead) end
  local lead = math.min(ahead, math.floor(n * per_run / 1000)) -- what starting them all takes
  if next_due <= now + lead then
    local share, seen = math.max(1, math.floor(room / #tenants)), {}
    for _, tenant in ipairs(tenants) do
      local q = P .. ':delayed:' .. tenant
      local due = redis.call('ZRANGEBYSCORE', q, '-inf', now + lead, 'WITHSCORES', 'LIMIT', 0, share)
      for i = 1, #due, 2 do
        local m = due[i]
        redis.call('ZREM', q, m)
        local rk = 'jw:{' .. tenant .. '}:run:' .. string.sub(m, #tenant + 2)
        if redis.call('HGET', rk, 'status') == 'delayed' then
          shard_ready(P, tenant, due[i + 1], m, seen)
          out[#out + 1] = m
        end
      end
      delayed_relist(listed_at, q, tenant)
    end
    next_due = tonumber(redis.call('ZRANGE', listed_at, 0, 0, 'WITHSCORES')[2] or -1)
    more = next_due >= 0 and next_due <= now + lead
  else
    next_due = next_due - lead -- then the rest of the burst must begin to start
  end
end
out[1], out[2] = more and 1 or 0, next_due
return out
