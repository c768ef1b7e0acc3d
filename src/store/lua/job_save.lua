-- job_save: create or update jobs, all or nothing.
-- ARGV: the instance's default jobs and schedules quotas (see the
-- prelude's Quotas), then groups of 5 per job:
--   id, expected version ("0" = create), job JSON,
--   secret ("" keep, "-" remove, "=<job id>" copy that job's, else the new
--   secret in clear),
--   next firing ("" keep, "-" none, else epoch ms). The fire ledger stays:
--   a nominal time already fired never fires again.
-- Returns {"ok"} | {"conflict", field, value} | {"version", id} | {"notfound", id}
--       | {"quota", ...} (Q.over: more live jobs, or jobs with a schedule,
--         than the tenant may have; changes that do not add are allowed)
-- Name and slug uniqueness are checked across existing jobs and the batch
-- itself before the first write. A soft-deleted job (deleted_at set) keeps
-- neither: its name and slug are free for others.
local G, A = 5, 2 -- a group's size, and where the groups start (ARGV[A + 1])
want_tenant(); want_int(1, 0, QUOTA_MAX, 'jobs quota'); want_int(2, 0, QUOTA_MAX, 'schedules quota')
want_groups(A + 1, G, 'per job: id, version, JSON, secret, next firing')
for i = A + 1, #ARGV, G do
  want_id(i, 'job id'); want_int(i + 1, 0, TIME_MAX, 'expected version')
  if ARGV[i + 4] ~= '' and ARGV[i + 4] ~= '-' then want_time(i + 4, 'next firing, ms') end
end
local n = (#ARGV - A) / G
Q.defaults.jobs, Q.defaults.schedules = ARGV[1], ARGV[2]
-- Commands that do not depend on each other go to Redis once per batch
-- (a bulk registration spends most of its time on calls, not on work).
local names, slugs, olds, jobs = {}, {}, {}, {}
local packed_ids = {}
for i = 0, n - 1 do packed_ids[i + 1] = id_pack(ARGV[A+i*G+1]) end
local current = call_chunked('HMGET', K_JOBS, packed_ids)
local djobs, dtimed = 0, 0 -- what the batch adds to the tenant's counts
local function b(x) return x and 1 or 0 end
for i = 0, n - 1 do
  local id, expect, json = ARGV[A+i*G+1], tonumber(ARGV[A+i*G+2]), ARGV[A+i*G+3]
  local job = job_decode(json)
  jobs[i] = job
  local cur = current[i + 1]
  if expect == 0 then
    if cur then return {'conflict', 'id', id} end
  else
    if not cur then return {'notfound', id} end
    local old = job_decode(cur)
    if tonumber(job_version(old)) ~= expect then return {'version', id} end
    olds[i] = {json = cur, job = old}
  end
  local was = olds[i] and olds[i].job
  djobs = djobs + b(Q.live(job)) - b(was and Q.live(was))
  dtimed = dtimed + b(Q.timed(job)) - b(was and Q.timed(was))
  local deleted = job.deleted_at ~= nil and job.deleted_at ~= cjson.null
  if not deleted then
    local owner = idx_get(job.name)
    if (owner and owner ~= id) or (names[job.name] and names[job.name] ~= id) then
      return {'conflict', 'name', job.name}
    end
    names[job.name] = id
    local sk = slug_key(job)
    if sk then
      local sowner = slug_owner(sk)
      if (sowner and sowner ~= id) or (slugs[sk] and slugs[sk] ~= id) then
        return {'conflict', 'slug', job_slug(job)}
      end
      slugs[sk] = id
    end
  end
end
local njobs, ntimed = Q.counts()
local limit = Q.limit('jobs')
if djobs > 0 and limit > 0 and njobs + djobs > limit then return Q.over('jobs', limit, njobs, 60000) end
limit = Q.limit('schedules')
if dtimed > 0 and limit > 0 and ntimed + dtimed > limit then
  return Q.over('schedules', limit, ntimed, 60000)
end
Q.count(djobs, dtimed)
local stores, made = {}, {}
for i = 0, n - 1 do
  local id, json, secret, due = ARGV[A+i*G+1], ARGV[A+i*G+3], ARGV[A+i*G+4], ARGV[A+i*G+5]
  local job = jobs[i]
  local old = olds[i]
  if old then
    -- a soft-deleted job's name and slug may belong to another job by now:
    -- unindex_job drops only entries that are this job's
    unindex_job(id, old.job)
    redis.call('RPUSH', k_versions(id), old.json)
    redis.call('LTRIM', k_versions(id), -MAX_VERSIONS, -1)
  else
    made[#made + 1] = packed_ids[i + 1]
  end
  stores[#stores + 1], stores[#stores + 2] = packed_ids[i + 1], json
  if job.deleted_at == nil or job.deleted_at == cjson.null then index_job(id, job) end
  if secret == '-' then
    redis.call('HDEL', K_JOB_SECRETS, id)
  elseif string.sub(secret, 1, 1) == '=' then
    local s = redis.call('HGET', K_JOB_SECRETS, string.sub(secret, 2))
    if s then redis.call('HSET', K_JOB_SECRETS, id, s) end
  elseif secret ~= '' then
    redis.call('HSET', K_JOB_SECRETS, id, secret)
  end
  if due == '-' then
    set_due(id, nil, not old)
  elseif due ~= '' then
    set_due(id, due, not old)
  end
end
call_chunked('HSET', K_JOBS, stores)
call_chunked('RPUSH', K_JOB_ORDER, made)
idx_flush()
return {'ok'}
