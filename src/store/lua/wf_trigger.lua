-- wf_trigger: start a run of a workflow: its root steps' runs become ready.
-- ARGV: workflow id or name, new workflow run id, now (ms), retention (ms),
-- who. Returns {"ok", workflow id, status, members to start...} | {"gone"}
want_tenant(); want_id(2, 'workflow run id'); want_time(3); want_int(4, 0, RETENTION_MAX, 'retention, ms')
return trigger_workflow(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]) or {'gone'}
