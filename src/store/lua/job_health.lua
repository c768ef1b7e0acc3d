-- job_health: a job's runs in a time window, for its health score.
-- ARGV: job id or name, since (ms), at most how many runs to look at.
-- Returns false when there is no such job, else {job id, then per run ended
-- in the window: status, duration in ms (or -1)}.
want_tenant(); want_int(3, 1, SCAN_MAX, 'limit')
local job = resolve_job(ARGV[1])
if not job then return false end
local ids = redis.call('ZREVRANGEBYSCORE', k_job_runs(job), '+inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {job}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', k_run(id), 'status', 'started_at', 'finished_at')
  if v[1] then
    out[#out + 1] = v[1]
    if v[2] and v[3] then out[#out + 1] = tonumber(v[3]) - tonumber(v[2]) else out[#out + 1] = -1 end
  end
end
return out
