-- run_start: start the next attempt of a ready run, if its limits allow.
-- ARGV: run id, instance id, now (ms), lease (ms).
-- Returns {"started", attempt, job JSON, webhook secret or false, run HGETALL}
--       | {"waiting"} (a concurrency limit holds it; it becomes ready when a
--         run of its job ends) | {"delayed", when} (a rate limit: ready then)
--       | {"waiting"} also while its job's prerequisites are not satisfied
--         (it becomes ready when one of their runs ends and they are)
--       | {"ended", members to start...} (expired, or its job was deleted)
--       | {"gone"} | {"skip", status}
-- (The work is start_attempt's, in the prelude: run_create does it too.)
local run_id, instance, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = k_run(run_id)
local run = hgetall_table(key)
if not run.status then return {'gone'} end
if run.status ~= 'pending' and run.status ~= 'delayed' then return {'skip', run.status} end
if run.status == 'delayed' then
  local due = redis.call('ZSCORE', k_delayed(tonumber(run._shard)), run_member(run_id))
  if due and tonumber(due) > now then return {'skip', 'delayed'} end
end
local out = start_attempt(run_id, run, redis.call('HGET', K_JOBS, run.job_id), nil, instance, now, lease)
if out[1] == 'started' then out[5] = redis.call('HGETALL', key) end
return out
