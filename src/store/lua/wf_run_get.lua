-- wf_run_get: a workflow run with its steps. ARGV: workflow id or name,
-- workflow run id. Returns false when there is no such run, else
-- {HGETALL of the run, then per step: key, job id, run id or "skipped" or
-- false (not started), that run's status or false}.
want_tenant(); want_id(2, 'workflow run id')
local id = redis.call('HGET', K_WORKFLOWS .. ':names', ARGV[1]) or ARGV[1]
local wkey = k_wfrun(ARGV[2])
if redis.call('HGET', wkey, 'workflow_id') ~= id then return false end
local json = redis.call('HGET', K_WORKFLOWS, id)
if not json then return false end
local out = {redis.call('HGETALL', wkey)}
for _, step in ipairs(cjson.decode(json).steps) do
  local v = redis.call('HGET', wkey .. ':steps', step.key)
  out[#out + 1] = step.key
  out[#out + 1] = step.job_id
  out[#out + 1] = v or false
  if v and v ~= 'skipped' then out[#out + 1] = redis.call('HGET', k_run(v), 'status') or false
  else out[#out + 1] = false end
end
return out
