-- dep_set: job ARGV[1] (id or name) depends on every job listed after it,
-- all or none. ARGV[2] = the condition (AllSucceeded | AnySucceeded),
-- ARGV[3] = created_at (ISO 8601) for new dependencies, then per
-- prerequisite: its id or name and an id for its dependency if new.
-- A prerequisite the job already has keeps its dependency (and id) and
-- takes the new condition.
-- Returns {"ok", dependency JSON...} | {"notfound", index (0 = the job)} |
--         {"cycle", index} | {"limit"}
want_tenant()
local job = resolve_job(ARGV[1])
if not job then return {'notfound', 0} end
local cond, created = ARGV[2], ARGV[3]
local ons, fresh = {}, 0
for i = 4, #ARGV, 2 do
  local index = (i - 2) / 2
  local on = resolve_job(ARGV[i])
  if not on then return {'notfound', index} end
  if on == job or depends_on(on, job) then return {'cycle', index} end
  if not redis.call('HGET', k_job_deps(job), on) then fresh = fresh + 1 end
  ons[#ons + 1] = {on = on, dep_id = ARGV[i + 1]}
end
if redis.call('HLEN', k_job_deps(job)) + fresh > 100 then return {'limit'} end
local out = {'ok'}
for _, x in ipairs(ons) do
  local dep_id = redis.call('HGET', k_job_deps(job), x.on)
  local at = created
  if dep_id then
    local old = redis.call('HGET', K_DEPS, dep_id)
    if old then at = cjson.decode(old).created_at or created end
  else
    dep_id = x.dep_id
  end
  local json = '{"id":"' .. dep_id .. '","job_id":"' .. job .. '","depends_on_job_id":"' .. x.on ..
               '","condition":"' .. cond .. '","created_at":"' .. at .. '"}'
  redis.call('HSET', K_DEPS, dep_id, json)
  redis.call('HSET', k_job_deps(job), x.on, dep_id)
  redis.call('HSET', k_job_dependents(x.on), job, dep_id)
  out[#out + 1] = json
end
return out
