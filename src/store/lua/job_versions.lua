-- job_versions: a job's versions. ARGV: job id or name.
-- Returns false when there is no such job, else {current JSON, earlier
-- snapshots oldest first...}.
want_tenant()
local id = resolve_job(ARGV[1])
if not id then return false end
local out = {job_json(id)}
local older = redis.call('LRANGE', k_versions(id), 0, -1)
for i = 1, #older do out[#out + 1] = with_id(id, older[i]) end
return out
