-- dep_delete: remove dependency ARGV[2] of job ARGV[1] (id or name).
-- Returns "ok", "nojob" or "nodep".
want_tenant()
local job = resolve_job(ARGV[1])
if not job then return 'nojob' end
local json = redis.call('HGET', K_DEPS, ARGV[2])
if not json then return 'nodep' end
local dep = cjson.decode(json)
if dep.job_id ~= job then return 'nodep' end
redis.call('HDEL', K_DEPS, ARGV[2])
redis.call('HDEL', k_job_deps(job), dep.depends_on_job_id)
redis.call('HDEL', k_job_dependents(dep.depends_on_job_id), job)
-- runs held only by this prerequisite may go (a shard's sweep starts them)
if deps_satisfied(job) then
  local now = tonumber(redis.call('TIME')[1]) * 1000
  local shard = job_shard(job)
  for _, id in ipairs(redis.call('ZRANGE', k_job_depwait(job), 0, -1)) do
    redis.call('HSET', k_run(id), 'status', 'pending')
    ready_add(shard, 0, run_member(id))
  end
  redis.call('DEL', k_job_depwait(job))
end
return 'ok'
