-- dep_delete: remove dependency ARGV[2] of job ARGV[1] (id or name).
-- Returns "ok", "nojob" or "nodep".
local job = resolve_job(ARGV[1])
if not job then return 'nojob' end
local json = redis.call('HGET', K_DEPS, ARGV[2])
if not json then return 'nodep' end
local dep = cjson.decode(json)
if dep.job_id ~= job then return 'nodep' end
redis.call('HDEL', K_DEPS, ARGV[2])
redis.call('HDEL', k_job_deps(job), dep.depends_on_job_id)
redis.call('HDEL', k_job_dependents(dep.depends_on_job_id), job)
return 'ok'
