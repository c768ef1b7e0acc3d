-- run_notice: what the notices of an ended run need. ARGV: run id.
-- Returns {run HGETALL, job JSON or false, webhook secret or false}, or
-- false when the run is gone or has not ended.
want_tenant(); want_id(1, 'run id')
local run = run_all(k_run(ARGV[1]))
if #run == 0 then return false end
local status
for i = 1, #run, 2 do if run[i] == 'status' then status = run[i + 1] end end
if OPEN_STATES[status] then return false end
local job_id = redis.call('HGET', k_run(ARGV[1]), 'job_id')
return {run, job_json(job_id),
        redis.call('HGET', K_JOB_SECRETS, job_id) or false}
