-- job_delete: remove a job, its indexes, versions, secret and every
-- dependency that names it. ARGV: id or name, and "1" to remove its ended
-- runs too (those not yet ended finish, then expire as usual).
-- Returns the id, or false.
want_tenant()
local id = resolve_job(ARGV[1])
if not id then return false end
local job = job_decode(job_raw(id))
Q.counts()
Q.count(-(Q.live(job) and 1 or 0), -(Q.timed(job) and 1 or 0))
job_remove(id)
-- a soft-deleted job's name and slug may belong to another job by now:
-- unindex_job drops only entries that are this job's
unindex_job(id, job)
idx_flush()
redis.call('HDEL', K_JOB_SECRETS, id)
redis.call('DEL', k_versions(id))
redis.call('HDEL', K_FIRED, id)
set_due(id, nil)
local deps = redis.call('HGETALL', k_job_deps(id))
for i = 1, #deps, 2 do
  redis.call('HDEL', k_job_dependents(deps[i]), id)
  redis.call('HDEL', K_DEPS, deps[i + 1])
end
local dependents = redis.call('HGETALL', k_job_dependents(id))
for i = 1, #dependents, 2 do
  redis.call('HDEL', k_job_deps(dependents[i]), id)
  redis.call('HDEL', K_DEPS, dependents[i + 1])
end
redis.call('DEL', k_job_deps(id), k_job_dependents(id))
if ARGV[2] == '1' then
  local runs = k_job_runs(id)
  for _, run in ipairs(redis.call('ZRANGE', runs, 0, -1)) do
    local f = redis.call('HMGET', k_run(run), 'status', '_big')
    if not f[1] or not OPEN_STATES[f[1]] then
      run_delete(run, f[2] or nil)
      redis.call('ZREM', K_RUNS, run)
      redis.call('ZREM', runs, run)
    end
  end
end
return id
