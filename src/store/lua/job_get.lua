-- job_get: jobs by id or name. ARGV: refs. Returns one entry per ref: the
-- pair {job JSON, next firing (ms) or false}, or false when there is no such
-- job in this tenant.
want_tenant()
local out = {}
for i = 1, #ARGV do
  local id = resolve_job(ARGV[i])
  if id then
    out[i] = {job_json(id), next_run_at(id)}
  else
    out[i] = false
  end
end
return out
