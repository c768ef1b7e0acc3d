-- job_save: create or update jobs, all or nothing.
-- ARGV: groups of 6 per job:
--   id, expected version ("0" = create), created_at ms, job JSON,
--   secret ("" keep, "-" remove, "=<job id>" copy that job's, else the new
--   secret in clear),
--   next firing ("" keep, "-" none, else epoch ms). The fire ledger stays:
--   a nominal time already fired never fires again.
-- Returns {"ok"} | {"conflict", field, value} | {"version", id} | {"notfound", id}
-- Name and slug uniqueness are checked across existing jobs and the batch
-- itself before the first write. A soft-deleted job (deleted_at set) keeps
-- neither: its name and slug are free for others.
local G = 6
local n = #ARGV / G
local names, slugs, olds = {}, {}, {}
for i = 0, n - 1 do
  local id, expect, json = ARGV[i*G+1], tonumber(ARGV[i*G+2]), ARGV[i*G+4]
  local job = cjson.decode(json)
  local cur = redis.call('HGET', K_JOBS, id)
  if expect == 0 then
    if cur then return {'conflict', 'id', id} end
  else
    if not cur then return {'notfound', id} end
    local old = cjson.decode(cur)
    if tonumber(job_version(old)) ~= expect then return {'version', id} end
    olds[i] = {json = cur, name = old.name, slug = slug_key(old)}
  end
  local deleted = job.deleted_at ~= nil and job.deleted_at ~= cjson.null
  local owner = redis.call('HGET', K_JOB_NAMES, job.name)
  if not deleted and ((owner and owner ~= id) or (names[job.name] and names[job.name] ~= id)) then
    return {'conflict', 'name', job.name}
  end
  if not deleted then names[job.name] = id end
  local sk = slug_key(job)
  if sk and not deleted then
    local sowner = redis.call('HGET', K_JOB_SLUGS, sk)
    if (sowner and sowner ~= id) or (slugs[sk] and slugs[sk] ~= id) then
      return {'conflict', 'slug', job_slug(job)}
    end
    slugs[sk] = id
  end
end
for i = 0, n - 1 do
  local id, created, json, secret, due = ARGV[i*G+1], ARGV[i*G+3], ARGV[i*G+4], ARGV[i*G+5], ARGV[i*G+6]
  local job = cjson.decode(json)
  local deleted = job.deleted_at ~= nil and job.deleted_at ~= cjson.null
  local old = olds[i]
  if old then
    local sk = slug_key(job)
    if (old.name ~= job.name or deleted) and redis.call('HGET', K_JOB_NAMES, old.name) == id then
      redis.call('HDEL', K_JOB_NAMES, old.name)
    end
    if old.slug and (old.slug ~= sk or deleted) and redis.call('HGET', K_JOB_SLUGS, old.slug) == id then
      redis.call('HDEL', K_JOB_SLUGS, old.slug)
    end
    redis.call('RPUSH', k_versions(id), old.json)
    redis.call('LTRIM', k_versions(id), -MAX_VERSIONS, -1)
  else
    redis.call('ZADD', K_JOBS_CREATED, created, id)
  end
  redis.call('HSET', K_JOBS, id, json)
  if not deleted then
    redis.call('HSET', K_JOB_NAMES, job.name, id)
    local sk = slug_key(job)
    if sk then redis.call('HSET', K_JOB_SLUGS, sk, id) end
  end
  if secret == '-' then
    redis.call('HDEL', K_JOB_SECRETS, id)
  elseif string.sub(secret, 1, 1) == '=' then
    local s = redis.call('HGET', K_JOB_SECRETS, string.sub(secret, 2))
    if s then redis.call('HSET', K_JOB_SECRETS, id, s) end
  elseif secret ~= '' then
    redis.call('HSET', K_JOB_SECRETS, id, secret)
  end
  if due == '-' then
    set_due(id, nil)
  elseif due ~= '' then
    set_due(id, due)
  end
end
return {'ok'}
