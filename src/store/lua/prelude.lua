-- prelude.lua: the Redis key schema of jobwheel, in one place. Every script
-- is this file followed by the script's own body (scripts/embed_lua.py).
--
-- KEYS[1] is "jw:{<tenant>}"; every key a script touches starts with it, so
-- the hash tag keeps all of a tenant's keys in one Redis Cluster slot.
--
--   <T>:jobs                 hash  job id -> job JSON (the API form; the
--                                  webhook secret appears masked)
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
