-- wf_save: create a workflow (ARGV: "create", id, name, JSON, step job refs
-- in step order) or delete one (ARGV: "delete", id or name).
-- The JSON holds placeholders \1<i>\1 (raw bytes 1, which JSON strings
-- cannot carry unescaped) for the steps' resolved job ids.
-- Returns {"ok", JSON} | {"conflict"} | {"nojob", index} | {"gone"}
want_tenant()
if ARGV[1] ~= 'delete' then want_id(2, 'workflow id') end
if ARGV[1] == 'delete' then
  local id = redis.call('HGET', K_WORKFLOWS .. ':names', ARGV[2]) or ARGV[2]
  local json = redis.call('HGET', K_WORKFLOWS, id)
  if not json then return {'gone'} end
  redis.call('HDEL', K_WORKFLOWS, id)
  redis.call('HDEL', K_WORKFLOWS .. ':names', cjson.decode(json).name)
  return {'ok', id}
end
local id, name, json = ARGV[2], ARGV[3], ARGV[4]
if redis.call('HEXISTS', K_WORKFLOWS .. ':names', name) == 1 then return {'conflict'} end
for i = 5, #ARGV do
  local job = resolve_job(ARGV[i])
  if not job then return {'nojob', i - 5} end
  json = string.gsub(json, '\1' .. (i - 5) .. '\1', '"' .. job .. '"')
end
redis.call('HSET', K_WORKFLOWS, id, json)
redis.call('HSET', K_WORKFLOWS .. ':names', name, id)
return {'ok', json}
