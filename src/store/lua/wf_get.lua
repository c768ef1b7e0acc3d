-- wf_get: a workflow by id or name (ARGV[1]), or every one by name (no
-- ARGV). Returns the JSON (false when none), or the list of JSONs.
want_tenant()
if #ARGV == 0 then
  local names = redis.call('HGETALL', K_WORKFLOWS .. ':names')
  local sorted = {}
  for i = 1, #names, 2 do sorted[#sorted + 1] = {names[i], names[i + 1]} end
  table.sort(sorted, function(a, b) return a[1] < b[1] end)
  local out = {}
  for _, p in ipairs(sorted) do out[#out + 1] = redis.call('HGET', K_WORKFLOWS, p[2]) end
  return out
end
local id = redis.call('HGET', K_WORKFLOWS .. ':names', ARGV[1]) or ARGV[1]
return redis.call('HGET', K_WORKFLOWS, id) or false
