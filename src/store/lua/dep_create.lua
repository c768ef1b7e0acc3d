-- dep_create: job ARGV[1] (id or name) depends on job ARGV[2] (id or name).
-- ARGV[3] = new dependency id, ARGV[4] = its JSON with "JOB_ID" and
-- "DEPENDS_ON_ID" placeholders for the resolved ids.
-- Returns {"ok", json} | {"notfound", which} | {"conflict", existing id} |
--         {"cycle"} | {"limit"}
want_tenant()
local job = resolve_job(ARGV[1])
if not job then return {'notfound', 'job'} end
local on = resolve_job(ARGV[2])
if not on then return {'notfound', 'depends_on_job_id'} end
if job == on then return {'cycle'} end
local existing = redis.call('HGET', k_job_deps(job), on)
if existing then return {'conflict', existing} end
if redis.call('HLEN', k_job_deps(job)) >= 100 then return {'limit'} end
if depends_on(on, job) then return {'cycle'} end
local json = string.gsub(string.gsub(ARGV[4], 'DEPENDS_ON_ID', on), 'JOB_ID', job)
redis.call('HSET', K_DEPS, ARGV[3], json)
redis.call('HSET', k_job_deps(job), on, ARGV[3])
redis.call('HSET', k_job_dependents(on), job, ARGV[3])
return {'ok', json}
