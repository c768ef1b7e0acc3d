-- sched_tick: one instance's heartbeat and shard leases, every half second.
-- KEYS[1] = "jw:{sched}". ARGV: instance id, lease (ms), draining ("1":
-- give every shard up), the number of shards.
-- The heartbeat and the leases are written together, both by Redis's own
-- clock (the one key expiry goes by), and an instance counts as live for
-- exactly as long as its leases last: its heartbeat is younger than a
-- lease. So a shard is free once its lease lapsed or its holder is no
-- longer live — the same instant — and a dead instance's shards are taken
-- at the first tick after its lease lapsed, whatever the instances' clocks.
-- Each live instance takes its share, ceil(shards / live instances): it
-- renews the leases it holds, gives up any beyond its share, and takes free
-- ones (starting at a place of its own, so instances do not collide).
-- Returns the shard numbers this instance owns.
want_sched(); want_instance(1); want_int(2, 1, SCHED_LEASE_MAX, 'lease, ms')
do -- the number of shards is the one fixed in jw:{sched}:shards (1 to 4096 while none is)
  local fixed = redis.call('GET', 'jw:{sched}:shards')
  want_int(4, fixed and tonumber(fixed) or 1, fixed and tonumber(fixed) or SHARDS_MAX, 'number of shards')
end
local me, lease = ARGV[1], tonumber(ARGV[2])
local draining, n = ARGV[3] == '1', tonumber(ARGV[4])
local now = redis_ms()
local instances = KEYS[1] .. ':instances'
if draining then
  redis.call('ZREM', instances, me)
else
  redis.call('ZADD', instances, now, me)
end
-- gone: a heartbeat older than its lease (strictly, as a key expires)
redis.call('ZREMRANGEBYSCORE', instances, '-inf', '(' .. (now - lease))
local live = math.max(redis.call('ZCARD', instances), 1)
local share = draining and 0 or math.ceil(n / live)
local function lease_key(s) return 'jw:{s:' .. s .. '}:lease' end
local owned, free, alive = {}, {}, {}
local start = tonumber(string.sub(redis.sha1hex(me), 1, 8), 16) % n
for k = 0, n - 1 do
  local s = (start + k) % n
  local holder = redis.call('GET', lease_key(s))
  if holder == me then
    owned[#owned + 1] = s
  elseif not holder then
    free[#free + 1] = s
  else
    if alive[holder] == nil then alive[holder] = redis.call('ZSCORE', instances, holder) ~= false end
    if not alive[holder] then free[#free + 1] = s end -- its holder's lease ran out with its heartbeat
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
  redis.call('SET', lease_key(s), me, 'PX', lease)
  owned[#owned + 1] = s
end
return owned
