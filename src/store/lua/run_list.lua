-- run_list: a page of runs, newest first. ARGV: job id or name ("" = every
-- job of the tenant), cursor score ("" = newest), cursor id, limit, status
-- ("" = any). Returns false when the job named does not exist.
-- Returns {has_more, next_score, next_id, pairs of run 1, pairs of run 2...}
-- (each run as its HGETALL array); see runs_page.
want_tenant(); want_int(4, 1, PAGE_MAX, 'limit')
local job, cscore, cid, limit, status = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local index = K_RUNS
if job ~= '' then
  local id = resolve_job(job)
  if not id then return false end
  index = k_job_runs(id)
end
return runs_page(index, cscore ~= '' and cscore or '+inf', '-inf', cscore, cid, limit, function(id)
  local key = k_run(id)
  if status ~= '' and redis.call('HGET', key, 'status') ~= status then return nil end
  local pairs = run_all(key)
  if #pairs == 0 then return nil end
  return {pairs}
end)
