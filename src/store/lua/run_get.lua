-- run_get: runs by id. ARGV: ids. Returns per id its field/value pairs
-- (HGETALL), empty when there is no such run in this tenant.
want_tenant()
for i = 1, #ARGV do want_id(i, 'run id') end
local out = {}
for i = 1, #ARGV do
  out[i] = run_all(k_run(ARGV[i]))
end
return out
