-- dep_list: the dependencies of a job, oldest first. ARGV: job id or name.
-- Returns false when there is no such job, else the dependency JSONs.
want_tenant()
local job = resolve_job(ARGV[1])
if not job then return false end
local ids = redis.call('HVALS', k_job_deps(job))
local out = {}
for i = 1, #ids do
  local json = redis.call('HGET', K_DEPS, ids[i])
  if json then out[#out + 1] = json end
end
table.sort(out, function(a, b)
  return cjson.decode(a).created_at < cjson.decode(b).created_at
end)
return out
