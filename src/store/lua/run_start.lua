-- run_start: start the next attempt of a ready run, if its limits allow.
-- ARGV: run id, instance id, now (ms), lease (ms).
-- Returns {"started", attempt, job JSON, webhook secret or false, run HGETALL}
--       | {"waiting"} (a concurrency limit holds it; it becomes ready when a
--         run of its job ends) | {"delayed", when} (a rate limit: ready then)
--       | {"waiting"} also while its job's prerequisites are not satisfied
--         (it becomes ready when one of their runs ends and they are)
--       | {"ended", members to start...} (expired, or its job was deleted)
--       | {"gone"} | {"skip", status}
local run_id, instance, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = k_run(run_id)
local run = hgetall_table(key)
if not run.status then return {'gone'} end
if run.status ~= 'pending' and run.status ~= 'delayed' then return {'skip', run.status} end
local shard, member = tonumber(run._shard), run_member(run_id)
if run.status == 'delayed' then
  local due = redis.call('ZSCORE', k_delayed(shard), member)
  if due and tonumber(due) > now then return {'skip', 'delayed'} end
end
local job_json = job_raw(run.job_id)
if not job_json then
  redis.call('HSET', key, 'status', 'failed', 'error', 'the job was deleted', 'finished_at', now)
  local out = {'ended'}
  for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
  return out
end
if run.expires_at and now > tonumber(run.expires_at) then
  redis.call('HSET', key, 'status', 'expired', 'finished_at', now,
             'error', 'not started before expires_at (run_ttl_secs)')
  local out = {'ended'}
  for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
  return out
end
if not deps_satisfied(run.job_id) then
  redis.call('HSET', key, 'status', 'waiting')
  redis.call('ZREM', k_ready(shard), member)
  redis.call('ZREM', k_delayed(shard), member)
  redis.call('ZADD', k_job_depwait(run.job_id), tonumber(run.created_at), run_id)
  return {'waiting'}
end
local job = job_decode(job_json)
local function set(v) return v ~= nil and v ~= cjson.null end
local ckey = run.concurrency_key
local function wait()
  redis.call('HSET', key, 'status', 'waiting')
  redis.call('ZREM', k_ready(shard), member)
  redis.call('ZREM', k_delayed(shard), member)
  local prio = tonumber(run.priority or '0')
  redis.call('ZADD', k_job_waiting(run.job_id), tonumber(run.created_at) - prio * 60000, run_id)
  return {'waiting'}
end
if set(job.max_concurrency) and redis.call('SCARD', k_job_active(run.job_id)) >= job.max_concurrency then
  return wait()
end
if set(job.max_concurrency_per_key) and ckey and
   redis.call('SCARD', k_job_active(run.job_id) .. ':' .. ckey) >= job.max_concurrency_per_key then
  return wait()
end
-- rate limits: a sliding log of attempt starts per window
local windows = {}
if set(job.rate_limit_max) then
  windows[#windows + 1] = {k_job_rate(run.job_id), job.rate_limit_max, job.rate_limit_window_secs * 1000}
end
if set(job.rate_limit_keys) and run.metadata then
  local md = cjson.decode(run.metadata)
  for _, rk in ipairs(job.rate_limit_keys) do
    local v = md[rk.name]
    if v ~= nil and v ~= cjson.null then
      windows[#windows + 1] = {k_job_rate(run.job_id) .. ':' .. rk.name .. ':' .. tostring(v), rk.max, rk.window_secs * 1000}
    end
  end
end
local free_at = 0
for _, w in ipairs(windows) do
  redis.call('ZREMRANGEBYSCORE', w[1], '-inf', now - w[3])
  if redis.call('ZCARD', w[1]) >= w[2] then
    local oldest = tonumber(redis.call('ZRANGE', w[1], 0, 0, 'WITHSCORES')[2])
    free_at = math.max(free_at, oldest + w[3])
  end
end
if free_at > 0 then
  redis.call('HSET', key, 'status', 'delayed')
  redis.call('ZREM', k_ready(shard), member)
  redis.call('ZADD', k_delayed(shard), free_at, member)
  return {'delayed', free_at}
end
local attempt = tonumber(run.attempt or '0') + 1
redis.call('HSET', key, 'status', 'running', 'attempt', attempt, '_instance', instance, '_phase', 'http',
           '_attempt_started', now)
if not run.started_at then redis.call('HSET', key, 'started_at', now) end
redis.call('ZREM', k_ready(shard), member)
redis.call('ZREM', k_delayed(shard), member)
redis.call('ZADD', k_running(shard), now + lease, member)
redis.call('SADD', k_job_active(run.job_id), run_id)
if ckey then redis.call('SADD', k_job_active(run.job_id) .. ':' .. ckey, run_id) end
for _, w in ipairs(windows) do
  redis.call('ZADD', w[1], now, run_id .. ':' .. attempt)
  redis.call('PEXPIRE', w[1], w[3] + 1000)
end
return {'started', attempt, with_id(run.job_id, job_json), redis.call('HGET', K_JOB_SECRETS, run.job_id) or false,
        redis.call('HGETALL', key)}
