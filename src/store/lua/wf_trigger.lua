-- wf_trigger: start a run of a workflow: its root steps' runs become ready.
-- ARGV: workflow id or name, new workflow run id, now (ms), retention (ms),
-- who, the instance's default runs_per_minute and run_history quotas (a
-- new workflow run counts as many runs as it has steps).
-- Returns {"ok", workflow id, status, members to start...} | {"gone"} |
-- {"quota", ...} (Q.over)
want_tenant(); want_id(2, 'workflow run id'); want_time(3); want_int(4, 0, RETENTION_MAX, 'retention, ms')
want_int(6, 0, QUOTA_MAX, 'runs_per_minute quota'); want_int(7, 0, QUOTA_MAX, 'run_history quota')
local now = tonumber(ARGV[3])
Q.defaults.runs_per_minute, Q.defaults.run_history = ARGV[6], ARGV[7]
local id = redis.call('HGET', K_WORKFLOWS .. ':names', ARGV[1]) or ARGV[1]
local json = redis.call('HGET', K_WORKFLOWS, id)
if json and redis.call('EXISTS', k_wfrun(ARGV[2])) == 0 then
  local over = Q.make(now, #cjson.decode(json).steps)
  if over then return over end
end
return trigger_workflow(ARGV[1], ARGV[2], now, tonumber(ARGV[4]), ARGV[5]) or {'gone'}
