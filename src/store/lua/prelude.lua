-- prelude.lua: the Redis key schema of jobwheel, in one place. Every script
-- is this file followed by the script's own body (scripts/embed_lua.py).
--
-- KEYS[1] is "jw:{<tenant>}"; every key a script touches starts with it, so
-- the hash tag keeps all of a tenant's keys in one Redis Cluster slot.
--
--   <T>:jobs                 hash  job id -> job JSON (the API form without
--                                  nulls and default values; the webhook
--                                  secret appears masked)
--   <T>:jobs:created         zset  job id, score = created_at (ms)
--   <T>:jobs:names           hash  job name -> job id (names are unique)
--   <T>:jobs:slugs           hash  project_id "\n" slug -> job id
--   <T>:jobs:secrets         hash  job id -> webhook secret in clear
--   <T>:job:<id>:versions    list  earlier JSON snapshots of the job,
--                                  oldest first (the current version is
--                                  the job itself); at most 100 kept
--   <T>:job:<id>:deps        hash  prerequisite job id -> dependency id
--   <T>:job:<id>:dependents  hash  dependent job id -> dependency id
--   <T>:deps                 hash  dependency id -> dependency JSON
--   <T>:apikeys              hash  key id -> key JSON (never the key)
--   <T>:apikeys:sha256       hash  hex SHA-256 of the key -> key id
--   <T>:fired                hash  job id -> latest nominal time fired (ms):
--                                  the fire ledger; a (job, nominal time)
--                                  at or before it never makes a run again
--   <T>:run:<id>             hash  a run, one field per API field (times as
--                                  epoch ms, JSON values as JSON text)
--   <T>:runs                 zset  run id, score = created_at (ms)
--   <T>:job:<id>:runs        zset  the job's run ids, score = created_at
--
-- The scheduler's keys are partitioned into shards by a hash of the member
-- "<tenant>:<job id>" (shard_of below; the C side computes the same), each
-- shard under its own hash tag, so shards can live on different nodes and
-- instances split the work by shard:
--   jw:{s:<n>}:due           zset  member -> next nominal firing (ms)
--   jw:{s:<n>}:changes       list  members whose firing changed, for the
--                                  owner to pick up (at most 10000 kept)
--   jw:{s:<n>}:lease         string  the instance that owns the shard (PX)
--   jw:{sched}:shards        string  the number of shards, fixed at first start
--   jw:{sched}:instances     zset  instance id -> last heartbeat (ms)
-- Scripts that fire or change a job touch the tenant's slot and the job's
-- shard slot together (single-Redis atomicity; see README "Redis").
local T = KEYS[1]
local K_JOBS = T .. ':jobs'
local K_JOBS_CREATED = T .. ':jobs:created'
local K_JOB_NAMES = T .. ':jobs:names'
local K_JOB_SLUGS = T .. ':jobs:slugs'
local K_JOB_SECRETS = T .. ':jobs:secrets'
local K_DEPS = T .. ':deps'
local K_APIKEYS = T .. ':apikeys'
local K_APIKEY_HASHES = T .. ':apikeys:sha256'
local MAX_VERSIONS = 100

local function k_versions(id) return T .. ':job:' .. id .. ':versions' end
local function k_job_deps(id) return T .. ':job:' .. id .. ':deps' end
local function k_job_dependents(id) return T .. ':job:' .. id .. ':dependents' end

local function is_uuid(s)
  return string.len(s) == 36 and string.match(s,
    '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$') ~= nil
end

-- The id of a job named by id or by name, or nil.
local function resolve_job(ref)
  if is_uuid(ref) and redis.call('HEXISTS', K_JOBS, string.lower(ref)) == 1 then
    return string.lower(ref)
  end
  local id = redis.call('HGET', K_JOB_NAMES, ref)
  if id then return id end
  return nil
end

local function slug_key(job)
  if job.slug == nil or job.slug == cjson.null then return nil end
  local project = job.project_id
  if project == nil or project == cjson.null then project = '' end
  return project .. '\n' .. job.slug
end

local TENANT = string.match(T, '^jw:{(.*)}$')
local K_FIRED = T .. ':fired'
local K_RUNS = T .. ':runs'
local function k_run(id) return T .. ':run:' .. id end
local function k_job_runs(id) return T .. ':job:' .. id .. ':runs' end

local function nshards()
  return tonumber(redis.call('GET', 'jw:{sched}:shards') or '16')
end
local function shard_of(member, n)
  return tonumber(string.sub(redis.sha1hex(member), 1, 8), 16) % n
end
local function k_due(shard) return 'jw:{s:' .. shard .. '}:due' end
local function k_changes(shard) return 'jw:{s:' .. shard .. '}:changes' end

-- Set (due = ms) or clear (due = nil) a job's next firing, and tell the
-- shard's owner.
local function set_due(job_id, due)
  local member = TENANT .. ':' .. job_id
  local shard = shard_of(member, nshards())
  if due then
    redis.call('ZADD', k_due(shard), due, member)
  else
    redis.call('ZREM', k_due(shard), member)
  end
  redis.call('RPUSH', k_changes(shard), member)
  redis.call('LTRIM', k_changes(shard), -10000, -1)
end

local function next_run_at(job_id)
  local member = TENANT .. ':' .. job_id
  return redis.call('ZSCORE', k_due(shard_of(member, nshards())), member) or false
end
