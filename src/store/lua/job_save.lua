-- job_save: create or update jobs, all or nothing.
-- ARGV: groups of 5 per job:
--   id, expected version ("0" = create), created_at ms, job JSON,
--   secret ("" keep, "-" remove, "=<job id>" copy that job's, else the new
--   secret in clear)
-- Returns {"ok"} | {"conflict", field, value} | {"version", id} | {"notfound", id}
-- Name and slug uniqueness are checked across existing jobs and the batch
-- itself before the first write.
local n = #ARGV / 5
local names, slugs, olds = {}, {}, {}
for i = 0, n - 1 do
  local id, expect, json = ARGV[i*5+1], tonumber(ARGV[i*5+2]), ARGV[i*5+4]
  local job = cjson.decode(json)
  local cur = redis.call('HGET', K_JOBS, id)
  if expect == 0 then
    if cur then return {'conflict', 'id', id} end
  else
    if not cur then return {'notfound', id} end
    local old = cjson.decode(cur)
    if tonumber(old.version) ~= expect then return {'version', id} end
    olds[i] = {json = cur, name = old.name, slug = slug_key(old)}
  end
  local owner = redis.call('HGET', K_JOB_NAMES, job.name)
  if (owner and owner ~= id) or (names[job.name] and names[job.name] ~= id) then
    return {'conflict', 'name', job.name}
  end
  names[job.name] = id
  local sk = slug_key(job)
  if sk then
    local sowner = redis.call('HGET', K_JOB_SLUGS, sk)
    if (sowner and sowner ~= id) or (slugs[sk] and slugs[sk] ~= id) then
      return {'conflict', 'slug', job.slug}
    end
    slugs[sk] = id
  end
end
for i = 0, n - 1 do
  local id, created, json, secret = ARGV[i*5+1], ARGV[i*5+3], ARGV[i*5+4], ARGV[i*5+5]
  local job = cjson.decode(json)
  local old = olds[i]
  if old then
    if old.name ~= job.name then redis.call('HDEL', K_JOB_NAMES, old.name) end
    local sk = slug_key(job)
    if old.slug and old.slug ~= sk then redis.call('HDEL', K_JOB_SLUGS, old.slug) end
    redis.call('RPUSH', k_versions(id), old.json)
    redis.call('LTRIM', k_versions(id), -MAX_VERSIONS, -1)
  else
    redis.call('ZADD', K_JOBS_CREATED, created, id)
  end
  redis.call('HSET', K_JOBS, id, json)
  redis.call('HSET', K_JOB_NAMES, job.name, id)
  local sk = slug_key(job)
  if sk then redis.call('HSET', K_JOB_SLUGS, sk, id) end
  if secret == '-' then
    redis.call('HDEL', K_JOB_SECRETS, id)
  elseif string.sub(secret, 1, 1) == '=' then
    local s = redis.call('HGET', K_JOB_SECRETS, string.sub(secret, 2))
    if s then redis.call('HSET', K_JOB_SECRETS, id, s) end
  elseif secret ~= '' then
    redis.call('HSET', K_JOB_SECRETS, id, secret)
  end
end
return {'ok'}
