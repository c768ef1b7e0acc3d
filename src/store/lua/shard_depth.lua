-- shard_depth: how many runs one shard holds, for the /metrics gauges its
-- owner reports (every few seconds, not on the hot path). KEYS[1] =
-- "jw:{s:<n>}". Returns {ready, delayed, running, complete}: ready and
-- delayed summed over the tenants with work in the shard, at most
-- DEPTH_TENANTS of them (complete is 0 when there were more: the sums are
-- then lower bounds), running from the shard's lease set.
want_shard_key()
local P = KEYS[1]
local DEPTH_TENANTS = 1000 -- a loop bound: fixed
local out, complete = {0, 0, redis.call('ZCARD', P .. ':running'), 1}, 1
for i, kind in ipairs({'ready', 'delayed'}) do
  local tenants = redis.call('ZRANGE', P .. ':' .. kind .. '_tenants', 0, DEPTH_TENANTS)
  if #tenants > DEPTH_TENANTS then
    complete = 0
    tenants[#tenants] = nil
  end
  local n = redis.call('ZCARD', P .. ':' .. kind) -- as earlier builds queued them
  for _, t in ipairs(tenants) do n = n + redis.call('ZCARD', P .. ':' .. kind .. ':' .. t) end
  out[i] = n
end
out[4] = complete
return out
