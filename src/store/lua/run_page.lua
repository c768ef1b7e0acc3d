-- run_page: one page of a job's runs, newest first, with how many it has.
-- ARGV: job id or name, page (1-based), page size.
-- Returns false when there is no such job, else {total, HGETALL of each
-- run of the page...} (an empty array for a run whose history expired).
want_tenant(); want_int(2, 1, 1e7, 'page'); want_int(3, 1, PAGE_MAX, 'page size')
local id = resolve_job(ARGV[1])
if not id then return false end
local page, size = tonumber(ARGV[2]), tonumber(ARGV[3])
local index = k_job_runs(id)
local from = (page - 1) * size
local out = {redis.call('ZCARD', index)}
for _, run in ipairs(redis.call('ZREVRANGE', index, from, from + size - 1)) do
  out[#out + 1] = run_all(k_run(run))
end
return out
