-- wf_trigger: start a run of a workflow: its root steps' runs become ready.
-- ARGV: workflow id or name, new workflow run id, now (ms), retention (ms),
-- who. Returns {"ok", workflow id, status, members to start...} | {"gone"}
local id = redis.call('HGET', K_WORKFLOWS .. ':names', ARGV[1]) or ARGV[1]
local json = redis.call('HGET', K_WORKFLOWS, id)
if not json then return {'gone'} end
local wf = cjson.decode(json)
local run_id, now, retention, who = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local wkey, runs = k_wfrun(run_id), T .. ':workflow:' .. id .. ':runs'
redis.call('HSET', wkey, 'id', run_id, 'workflow_id', id, 'status', 'running', 'created_at', now,
           'created_by', who, '_retention', retention)
redis.call('ZREMRANGEBYSCORE', runs, '-inf', now - retention)
redis.call('ZADD', runs, now, run_id)
local out = {'ok', id, 'running'}
for _, step in ipairs(wf.steps) do
  if #step.depends_on == 0 then
    local m = start_step(run_id, step, now, retention, who)
    if m then out[#out + 1] = m end
  end
end
-- steps whose root jobs are gone may settle the run at once
advance_workflow(run_id, now, out)
out[3] = redis.call('HGET', wkey, 'status')
-- a run, finished or not, is forgotten after the history retention
redis.call('PEXPIRE', wkey, retention)
redis.call('PEXPIRE', wkey .. ':steps', retention)
return out
