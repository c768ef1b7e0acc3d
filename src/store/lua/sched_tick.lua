-- sched_tick: one instance's heartbeat and shard leases, every half second.
-- KEYS[1] = "jw:{sched}". ARGV: instance id, now (ms), lease (ms), how old
-- a heartbeat may be before its instance counts as gone (ms), draining
-- ("1": give every shard up), the number of shards.
-- Each live instance takes its share, ceil(shards / live instances): it
-- renews the leases it holds, gives up any beyond its share, and takes free
-- ones (starting at a place of its own, so instances do not collide).
-- Returns the shard numbers this instance owns.
want_sched(); want_instance(1); want_clock(2); want_int(3, 1, SCHED_LEASE_MAX, 'lease, ms')
want_int(4, 1, RUN_LEASE_MAX, 'stale, ms')
do -- the number of shards is the one fixed in jw:{sched}:shards (1 to 4096 while none is)
  local fixed = redis.call('GET', 'jw:{sched}:shards')
  want_int(6, fixed and tonumber(fixed) or 1, fixed and tonumber(fixed) or SHARDS_MAX, 'number of shards')
end
local me, now, lease, stale = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local draining, n = ARGV[5] == '1', tonumber(ARGV[6])
local instances = KEYS[1] .. ':instances'
if draining then
  redis.call('ZREM', instances, me)
else
  redis.call('ZADD', instances, now, me)
end
redis.call('ZREMRANGEBYSCORE', instances, '-inf', now - stale)
local live = math.max(redis.call('ZCARD', instances), 1)
local share = draining and 0 or math.ceil(n / live)
local function lease_key(s) return 'jw:{s:' .. s .. '}:lease' end
local owned, free = {}, {}
local start = tonumber(string.sub(redis.sha1hex(me), 1, 8), 16) % n
for k = 0, n - 1 do
  local s = (start + k) % n
  local holder = redis.call('GET', lease_key(s))
  if holder == me then
    owned[#owned + 1] = s
  elseif not holder then
    free[#free + 1] = s
  end
end
while #owned > share do
  redis.call('DEL', lease_key(owned[#owned]))
  owned[#owned] = nil
end
for _, s in ipairs(owned) do
  redis.call('PEXPIRE', lease_key(s), lease)
end
for _, s in ipairs(free) do
  if #owned >= share then break end
  if redis.call('SET', lease_key(s), me, 'NX', 'PX', lease) then
    owned[#owned + 1] = s
  end
end
return owned
