-- cluster_status: the instances sharing this Redis and the shard each
-- owns, for an operator (GET /v1/system/instances). KEYS[1] = "jw:{sched}".
-- Read-only. Returns {number of shards, number of live instances, then per
-- instance: id, last heartbeat (ms), then per shard its owner ("" when
-- none)}. Like sched_tick it reads every shard's lease (one Redis; see the
-- note in prelude.lua on slots).
want_sched()
local n = tonumber(redis.call('GET', 'jw:{sched}:shards') or '0') or 0
n = math.max(0, math.min(n, SHARDS_MAX)) -- a loop bound: capped
local live = redis.call('ZRANGE', KEYS[1] .. ':instances', 0, -1, 'WITHSCORES')
local out = {n, #live / 2}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1]) -- as an integer reply
end
for s = 0, n - 1 do out[#out + 1] = redis.call('GET', 'jw:{s:' .. s .. '}:lease') or '' end
return out
