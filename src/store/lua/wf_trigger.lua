-- wf_trigger: start a run of a workflow: its root steps' runs become ready.
-- ARGV: workflow id or name, new workflow run id, now (ms), retention (ms),
-- who. Returns {"ok", workflow id, status, members to start...} | {"gone"}
return trigger_workflow(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]) or {'gone'}
