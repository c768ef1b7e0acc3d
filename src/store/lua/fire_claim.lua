-- fire_claim: fire one job's due firing(s), exactly once across instances.
-- ARGV: job id, the due score the caller saw, the job version its schedule
--       came from, the next firing ("-" none, else ms), now (ms),
--       history retention (ms),
--       the number of runs, then per run: run id, nominal time (ms), the
--       number of field/value pairs, the pairs.
-- The firing is the caller's only if the job's due score is still the one
-- it saw; then, in one step: runs are made for nominal times not yet in the
-- fire ledger, the ledger moves on, and the next firing is written.
-- Returns {"ok", run ids made...} | {"moved", current score or false} |
--         {"gone"} | {"inactive"} | {"stale", job JSON}
local job_id, seen, version, nxt, now, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local member, due = due_member(job_id), due_key(job_id)
local score = redis.call('ZSCORE', due, member)
if not score or tonumber(score) ~= tonumber(seen) then
  return {'moved', score or false}
end
local json = job_raw(job_id)
if not json then
  redis.call('ZREM', due, member)
  return {'gone'}
end
local job = job_decode(json)
if job.enabled == false or job.paused == true or
   (job.deleted_at ~= nil and job.deleted_at ~= cjson.null) then
  redis.call('ZREM', due, member)
  return {'inactive'}
end
if job_version(job) ~= version then
  return {'stale', with_id(job_id, json)}
end
local last = tonumber(redis.call('HGET', K_FIRED, job_id) or '-1')
local made = {'ok'}
local i, n = 8, tonumber(ARGV[7])
for _ = 1, n do
  local id, nominal, nf = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  if nominal > last then
    local key = k_run(id)
    local pending = false
    for f = i, i + 2 * nf - 1, 2 do
      if ARGV[f] == 'status' and ARGV[f + 1] == 'pending' then pending = true end
    end
    redis.call('HSET', key, unpack(ARGV, i, i + 2 * nf - 1))
    redis.call('HSET', key, '_retention', retention)
    if not pending then redis.call('PEXPIRE', key, retention) end
    redis.call('ZADD', K_RUNS, now, id)
    redis.call('ZADD', k_job_runs(job_id), now, id)
    if pending then
      -- ready to start: the execution engine takes it from here
      local shard = job_shard(job_id)
      redis.call('HSET', key, '_shard', shard)
      redis.call('SADD', k_job_open(job_id), id)
      redis.call('ZADD', k_ready(shard), now, run_member(id))
    end
    last = nominal
    made[#made + 1] = id
  end
  i = i + 2 * nf
end
if #made > 1 then
  redis.call('HSET', K_FIRED, job_id, last)
  redis.call('ZREMRANGEBYSCORE', K_RUNS, '-inf', now - retention)
  redis.call('ZREMRANGEBYSCORE', k_job_runs(job_id), '-inf', now - retention)
end
if nxt == '-' then
  redis.call('ZREM', due, member)
else
  redis.call('ZADD', due, nxt, member)
end
return made
