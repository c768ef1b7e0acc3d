-- tenant_quota: a tenant's quotas — read them with what the tenant uses,
-- or set the limits a super_admin gives it (see the prelude's Quotas).
-- ARGV: now (ms), the instance's default jobs, schedules, runs_per_minute,
-- inflight and run_history quotas, then pairs to set: quota name, limit
-- ("" = back to the default); a read gives none.
-- Returns {per quota in that order: its limit, "tenant" | "default", what
-- the tenant uses; the number of runs the inflight quota holds; then the
-- members of runs a raised inflight limit let go, to start}.
local NAMES = {'jobs', 'schedules', 'runs_per_minute', 'inflight', 'run_history'}
want_tenant(); want_time(1)
for i = 2, 6 do want_int(i, 0, QUOTA_MAX, 'default quota') end
if #ARGV % 2 ~= 0 then bad_arg('quotas to set come in pairs: name, limit') end
local now = tonumber(ARGV[1])
local known = {}
for i, name in ipairs(NAMES) do
  Q.defaults[name] = ARGV[1 + i]
  known[name] = true
end
local key = T .. ':quota'
for a = 7, #ARGV - 1, 2 do
  local name, limit = ARGV[a], ARGV[a + 1]
  if not known[name] then bad_arg('ARGV[' .. a .. '] names no quota') end
  if limit == '' then
    redis.call('HDEL', key, name)
  elseif not string.match(limit, '^%d+$') or tonumber(limit) > QUOTA_MAX then
    bad_arg('ARGV[' .. (a + 1) .. '] (a limit) must be a whole number up to ' .. QUOTA_MAX)
  else
    redis.call('HSET', key, name, limit)
  end
end
Q.limits = nil -- read again: the limits just set
local jobs, timed = Q.counts()
local rpm
if Q.limit('runs_per_minute') > 0 then
  rpm = tonumber(redis.call('GET', Q.rpm_key(now)) or '0')
else -- not counted without a limit: the runs made in the last minute
  rpm = redis.call('ZCOUNT', K_RUNS, now - 60000, '+inf')
end
local used = {jobs, timed, rpm, redis.call('SCARD', k_inflight()), redis.call('ZCARD', K_RUNS)}
local own = redis.call('HGETALL', key)
local set = {}
for i = 1, #own, 2 do set[own[i]] = true end
local out = {}
for i, name in ipairs(NAMES) do
  out[#out + 1] = Q.limit(name)
  out[#out + 1] = set[name] and 'tenant' or 'default'
  out[#out + 1] = used[i]
end
local held = redis.call('ZCARD', k_inflight_waiting())
out[#out + 1] = held
if #ARGV >= 7 and held > 0 then -- a raised (or removed) limit lets held runs go
  local limit = Q.limit('inflight')
  local n = limit == 0 and held or math.max(0, limit - used[4])
  if n > 0 then Q.release(math.min(n, 1000), out) end
end
return out
