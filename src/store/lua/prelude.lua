-- prelude.lua: the Redis key schema of jobwheel, in one place. With every
-- script it makes one Redis function library (scripts/embed_lua.py): each
-- script is a function that calls begin() and then runs the script's body.
--
-- KEYS[1] is "jw:{<tenant>}"; every key a script touches starts with it, so
-- the hash tag keeps all of a tenant's keys in one Redis Cluster slot.
--
--   <T>:jobs                 hash  job id (as its 16 bytes) -> job JSON: the
--                                  API form without nulls, default values,
--                                  the id and the fields it implies (see
--                                  "Implied fields"), under short keys
--                                  (job_decode reads it by API names); the
--                                  webhook secret appears masked. What
--                                  scripts return to jobwheel has the id
--                                  put back first
--   <T>:jobs:order           list  job ids (16 bytes) in the order the jobs
--                                  were made: the native list's order
--   <T>:names                hash  b = buckets, n = entries of the names
--                                  index, spread by linear hashing over
--   <T>:names:<b>            hash  job name -> job id (16 bytes): names are
--                                  unique; and project_id "\n" slug -> job id
--                                  for a slug (unique within the project),
--                                  except the slug of a job without project
--                                  whose slug is its name (its name's entry
--                                  stands for it; see slug_owner)
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
--   <T>:run:<id> internal fields (never shown): _shard, _retention (ms the
--                                  hash lives once the run ended), _cancel (1:
--                                  cancel asked); while the run is open only:
--                                  _instance (who runs the attempt), _phase
--                                  (http | worker), _attempt_started (ms),
--                                  _fallback (1: the next attempt calls the
--                                  fallback URL); job_version_id only when it
--                                  is not the job's id
--   <T>:job:<id>:open        set   runs not yet ended (for "already running")
--   <T>:job:<id>:active      set   running runs (max_concurrency)
--   <T>:job:<id>:active:<k>  set   running runs with concurrency_key k
--   <T>:job:<id>:waiting     zset  runs held by a limit, by priority then age
--   <T>:job:<id>:depwait     zset  runs held by their prerequisites, by age
--   <T>:workflows            hash  workflow id -> workflow JSON (steps: key,
--                                  job_id, depends_on, condition)
--   <T>:workflows:names      hash  workflow name -> id
--   <T>:wfrun:<id>           hash  a workflow run: id, workflow_id, status,
--                                  created_at, finished_at, created_by
--   <T>:wfrun:<id>:steps     hash  step key -> run id, or "skipped"
--   <T>:workflow:<id>:runs   zset  the workflow's run ids by created_at
--   <T>:job:<id>:rate        zset  attempt starts in the rate window
--   <T>:job:<id>:rate:<n>:<v> zset the same per rate_limit_keys name/value
--   <T>:idem:<key>           string run id of an idempotency key (24 h)
--   <T>:quota                hash  quota name -> the limit a super_admin set
--                                  for the tenant (see "Quotas" below)
--   <T>:usage                hash  jobs, schedules: the tenant's live jobs
--                                  and live jobs with a schedule (system
--                                  jobs not counted)
--   <T>:inflight             set   runs whose attempt's call is in flight
--                                  (running, not handed to a worker)
--   <T>:inflight:waiting     zset  runs held by the inflight quota, by
--                                  priority then age
--   <T>:rpm:<minute>         string runs made in that minute (epoch ms /
--                                  60000), counted while the tenant has a
--                                  runs_per_minute limit; kept two minutes
--   <T>:job:<id>:dedup:<sha> string run id of a payload (dedup_window_secs)
--
-- The scheduler's keys are partitioned into shards by a hash of a job's
-- name "<tenant>:<job id>" (shard_of below; the C side computes the same),
-- each shard under its own hash tag, so shards can live on different nodes
-- and instances split the work by shard. In a due set a job is a member of
-- 32 bytes, the tenant's and the job's ids packed (due_member), a third of
-- the name's size; scripts give jobwheel the name:
--   jw:{s:<n>}:due           zset  member -> next nominal firing (ms)
--   jw:{s:<n>}:changes       list  members whose firing changed, for the
--                                  owner to pick up (at most 10000 kept)
--   jw:{s:<n>}:lease         string  the instance that owns the shard (PX)
--   jw:{s:<n>}:ready:<tenant> zset "<tenant>:<run>" of the tenant's runs
--                                  ready to start, score = created_at -
--                                  priority minutes (a queue per tenant, so
--                                  that one tenant's backlog never stands
--                                  before another's: run_sweep.lua)
--   jw:{s:<n>}:ready_tenants zset  tenants whose ready queue in the shard may
--                                  have runs (score 0: in name order; one
--                                  whose queue is empty is dropped by the
--                                  sweep), and
--   jw:{s:<n>}:ready_turn    string  the last one the sweep served
--   jw:{s:<n>}:ready         zset  "<tenant>:<run>": ready runs as earlier
--                                  builds queued them (all tenants in one);
--                                  the sweep moves them to their tenant's
--   jw:{s:<n>}:delayed:<tenant> zset "<tenant>:<run>" of the tenant's
--                                  delayed runs -> when each may start
--   jw:{s:<n>}:delayed_tenants zset tenants whose delayed queue in the shard
--                                  may have runs -> the earliest time there
--                                  (or earlier: the sweep moves it on)
--   jw:{s:<n>}:delayed       zset  the same as earlier builds queued them
--                                  (the sweep moves them)
--   jw:{s:<n>}:running       zset  "<tenant>:<run>" -> when its lease ends
--                                  (renewed by its instance; for a run a
--                                  worker took over, its heartbeat deadline)
--   jw:{sched}:token_key     string  the key run tokens are signed with, when it is
--                                  not derived from the JWT HMAC secret
--   jw:{sched}:shards        string  the number of shards, fixed at first start
--   jw:{sched}:instances     zset  instance id -> last heartbeat (ms, by Redis's clock)
--   jw:{sched}:libraries     hash  function library (one per build) -> when
--                                  an instance last said it uses it (ms)
-- Scripts that fire or change a job touch the tenant's slot and the job's
-- shard slot together (single-Redis atomicity; see README "Redis").
--
-- Arguments are hostile until checked. Every function of this library can
-- be called by anyone who can send FCALL to this Redis, with any KEYS and
-- ARGV, so a script never builds a key name, a loop bound or a lifetime
-- (TTL, lease) from an argument it has not checked first: KEYS is exactly
-- one key of the shape its kind of script is called with (a tenant's
-- "jw:{<tenant id>}", a shard's "jw:{s:<n>}" with n below the shard count
-- of jw:{sched}:shards, or "jw:{sched}"); ids that name keys are lower-case
-- UUIDs; shard numbers are below the shard count; counts, limits, leases
-- and retentions are whole numbers within the bounds jobwheel itself uses
-- (the want_* checks below); instance ids are 1 to 200 printable ASCII
-- characters; a count of arguments must fit the arguments there are. A
-- script checks all of it at its top, before its first write: a script
-- that fails half-way is not rolled back. A bad argument is an error
-- "jobwheel: ..." that names it. The checks are string and number
-- comparisons (and one read of jw:{sched}:shards or of TIME where needed),
-- so the hot scripts stay cheap.

-- The library is loaded once, so its helpers are made once; what belongs
-- to one call is set by begin(keys, args), which every function calls
-- first: KEYS and ARGV as a script sees them, T = KEYS[1] and the keys made
-- from it, and the caches that live for one call (see where they are used).
local KEYS, ARGV, T, TENANT
local K_JOBS, K_JOB_ORDER, K_NAMES, K_JOB_SECRETS, K_DEPS, K_APIKEYS, K_APIKEY_HASHES
local K_FIRED, K_RUNS, K_WORKFLOWS
local Q = {} -- quotas: the helpers (made below), and per call the tenant's limits
local packed, idx_hashes, idx_nb, idx_n, idx_dirty, idx_vals, nshards_known, shards, change_near
local listed
-- What one call learnt of a job, by job id: its dependents (job ids) and
-- that it has no prerequisites (only the dep_* and job_delete scripts
-- change those, and none reads them before its change); that its waiting
-- queue is empty (until a run joins it: start_attempt); its stored JSON
-- with its id (what starting a run answers).
local memo
local function begin(keys, args)
  KEYS, ARGV, T = keys, args, keys[1]
  TENANT = string.match(T, '^jw:{(.*)}$')
  K_JOBS, K_JOB_ORDER, K_NAMES = T .. ':jobs', T .. ':jobs:order', T .. ':names'
  K_JOB_SECRETS, K_DEPS = T .. ':jobs:secrets', T .. ':deps'
  K_APIKEYS, K_APIKEY_HASHES = T .. ':apikeys', T .. ':apikeys:sha256'
  K_FIRED, K_RUNS, K_WORKFLOWS = T .. ':fired', T .. ':runs', T .. ':workflows'
  packed, idx_hashes, idx_vals = {}, {}, {}
  idx_nb, idx_n, idx_dirty = nil, nil, false
  nshards_known, shards, change_near = nil, {}, nil
  Q.limits, Q.defaults, Q.none_held = nil, {}, false
  listed = {}
  memo = {dependents = {}, no_deps = {}, idle = {}, json = {}}
end
local MAX_VERSIONS = 100

local function k_versions(id) return T .. ':job:' .. id .. ':versions' end
local function k_job_deps(id) return T .. ':job:' .. id .. ':deps' end
local function k_job_dependents(id) return T .. ':job:' .. id .. ':dependents' end

-- A UUID as its 16 bytes (the jobs hash and the indexes keep job ids so,
-- in less than half the space, in the same order), and back. Anything
-- else is kept as it is.
local function id_bytes4(x) -- the 4 bytes of a 32-bit number, high first
  local d = x % 256; x = (x - d) / 256
  local c = x % 256; x = (x - c) / 256
  local b = x % 256
  return (x - b) / 256, b, c, d
end
-- (packed: within one call, id -> its 16 bytes)
local function id_pack(id)
  if #id ~= 36 then return id end
  local p = packed[id]
  if p then return p end
  local a1, a2, a3, a4 = id_bytes4(tonumber(string.sub(id, 1, 8), 16))
  local b1, b2, b3, b4 = id_bytes4(tonumber(string.sub(id, 10, 13) .. string.sub(id, 15, 18), 16))
  local c1, c2, c3, c4 = id_bytes4(tonumber(string.sub(id, 20, 23) .. string.sub(id, 25, 28), 16))
  local d1, d2, d3, d4 = id_bytes4(tonumber(string.sub(id, 29, 36), 16))
  p = string.char(a1, a2, a3, a4, b1, b2, b3, b4, c1, c2, c3, c4, d1, d2, d3, d4)
  packed[id] = p
  return p
end
local function id_unpack(v)
  if not v or #v ~= 16 then return v end
  local h = string.format(string.rep('%02x', 16), string.byte(v, 1, 16))
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-' .. string.sub(h, 13, 16) .. '-' ..
         string.sub(h, 17, 20) .. '-' .. string.sub(h, 21, 32)
end

-- A stored job as a table under the API names of its fields (the stored
-- form has short keys: JOB_NAMES), and the stored key of a field.
local function job_decode(json)
  local t = {}
  for k, v in pairs(cjson.decode(json)) do t[JOB_NAMES[k] or k] = v end
  return t
end
local function job_key(name)
  if not JOB_KEYS then
    JOB_KEYS = {}
    for k, n in pairs(JOB_NAMES) do JOB_KEYS[n] = k end
  end
  return JOB_KEYS[name]
end

-- A stored job's JSON as jobwheel reads it: with its id first (false stays
-- false).
local function with_id(id, json)
  if not json then return false end
  return '{"id":"' .. id .. '",' .. string.sub(json, 2)
end
-- The stored JSON of job id (or false) in tenant base `base` (T for the
-- script's own tenant); store, remove, and every id in the order made.
local function job_raw_in(base, id) return redis.call('HGET', base .. ':jobs', id_pack(id)) end
local function job_raw(id) return job_raw_in(T, id) end
-- redis.call(cmd, key, ...list) in parts of at most 1000 arguments (Lua's
-- stack has room for about 8000); returns the parts' replies, joined.
local function call_chunked(cmd, key, list)
  local out = {}
  for a = 1, #list, 1000 do
    local r = redis.call(cmd, key, unpack(list, a, math.min(#list, a + 999)))
    if type(r) == 'table' then
      for j = 1, #r do out[#out + 1] = r[j] end
    end
  end
  return out
end
local function job_json(id) return with_id(id, job_raw(id)) end
local function job_remove(id)
  redis.call('HDEL', K_JOBS, id_pack(id))
  redis.call('LREM', K_JOB_ORDER, -1, id_pack(id)) -- from the newest end: recent jobs are found at once
end
local function job_ids(from, to)
  local out = redis.call('LRANGE', K_JOB_ORDER, from or 0, to or -1)
  for i = 1, #out do out[i] = id_unpack(out[i]) end
  return out
end

-- The names index (see K_NAMES above): a map from a name to a job id
-- spread over buckets by linear hashing so that each bucket stays a small
-- hash, which Redis keeps compact (a listpack, at its default limits of 128
-- entries of at most 64 bytes): a third of the memory of one big hash. The
-- buckets grow one at a time with the entries (IDX_FILL per bucket on
-- average); an entry over 64 bytes only makes its own bucket a plain hash.
local IDX_FILL = 48
-- Within one call (begin() resets them): idx_hashes, the names' hashes;
-- idx_nb and idx_n, the number of buckets and of entries; idx_dirty, that
-- count changed (idx_flush writes it back); idx_vals, name -> job id or false.
local function idx_hash(name)
  local h = idx_hashes[name]
  if not h then
    h = tonumber(string.sub(redis.sha1hex(name), 1, 8), 16)
    idx_hashes[name] = h
  end
  return h
end
-- the largest power of two not above nb
local function idx_half(nb)
  local h = 1
  while h * 2 <= nb do h = h * 2 end
  return h
end
local function idx_buckets()
  if not idx_nb then
    local m = redis.call('HMGET', K_NAMES, 'b', 'n')
    idx_nb, idx_n = tonumber(m[1] or '1'), tonumber(m[2] or '0')
  end
  return idx_nb
end
local function idx_key(name)
  local nb = idx_buckets()
  local h, half = idx_hash(name), idx_half(nb)
  local b = h % (2 * half)
  if b >= nb then b = h % half end
  return K_NAMES .. ':' .. b
end
-- the job id the index holds for name, or nil
local function idx_get(name)
  local v = idx_vals[name]
  if v == nil then
    v = id_unpack(redis.call('HGET', idx_key(name), name)) or false
    idx_vals[name] = v
  end
  return v or nil
end
-- A script that sets or deletes entries calls idx_flush at its end.
local function idx_flush()
  if idx_dirty then redis.call('HSET', K_NAMES, 'n', idx_n) end
  idx_dirty = false
end
-- Drop name's entry if it is id's.
local function idx_drop(name, id)
  local key = idx_key(name)
  if idx_get(name) == id then
    redis.call('HDEL', key, name)
    idx_vals[name] = false
    idx_n, idx_dirty = idx_n - 1, true
  end
end
local function idx_set(name, id)
  idx_vals[name] = id
  if redis.call('HSET', idx_key(name), name, id_pack(id)) == 0 then return end
  idx_n, idx_dirty = idx_n + 1, true
  local nb = idx_nb
  if idx_n <= IDX_FILL * nb then return end
  -- one bucket more: the entries of the next bucket in line that hash to
  -- the new one move there
  local half = idx_half(nb)
  local from, to = K_NAMES .. ':' .. (nb - half), K_NAMES .. ':' .. nb
  local all = redis.call('HGETALL', from)
  local moved, gone = {}, {}
  for i = 1, #all, 2 do
    if idx_hash(all[i]) % (2 * half) == nb then
      moved[#moved + 1], moved[#moved + 2] = all[i], all[i + 1]
      gone[#gone + 1] = all[i]
    end
  end
  if #gone > 0 then
    redis.call('HSET', to, unpack(moved))
    redis.call('HDEL', from, unpack(gone))
  end
  redis.call('HSET', K_NAMES, 'b', nb + 1)
  idx_nb = nb + 1
end
-- Every entry: calls fn(name, job id) for each.
local function idx_each(fn)
  for b = 0, idx_buckets() - 1 do
    local all = redis.call('HGETALL', K_NAMES .. ':' .. b)
    for i = 1, #all, 2 do fn(all[i], id_unpack(all[i + 1])) end
  end
end

local function is_uuid(s)
  return string.len(s) == 36 and string.match(s,
    '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$') ~= nil
end

-- The id of a job named by id or by name, or nil.
local function resolve_job(ref)
  if is_uuid(ref) and job_raw(string.lower(ref)) then
    return string.lower(ref)
  end
  return idx_get(ref)
end

-- Does job `from` depend on job `target`, directly or through others?
local function depends_on(from, target)
  local seen, queue, head = {[from] = true}, {from}, 1
  while head <= #queue do
    local cur = queue[head]; head = head + 1
    for _, nx in ipairs(redis.call('HKEYS', k_job_deps(cur))) do
      if nx == target then return true end
      if not seen[nx] then seen[nx] = true; queue[#queue + 1] = nx end
    end
  end
  return false
end

-- Implied fields: the stored form leaves out what can be told otherwise
-- (model/job.c is_implied): version 1, whose version_id is the job's id;
-- created_at when it is the millisecond of the (v7) id; the slug when it is
-- the name.
local function job_version(job) return tostring(job.version or 1) end
local function job_version_id(id, job) return job.version_id or id end
local function job_slug(job) return job.slug or job.name end

-- A time in ms as jobwheel writes it: 2026-01-31T23:59:59.999Z.
local function iso_of_ms(ms)
  local s = math.floor(ms / 1000)
  local days = math.floor(s / 86400)
  local secs = s - days * 86400
  -- civil date from days since 1970-01-01 (proleptic Gregorian)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(secs / 3600),
                       math.floor(secs % 3600 / 60), secs % 60, ms % 1000)
end
local function job_created_at(id, job)
  return job.created_at or iso_of_ms(tonumber(string.sub(id, 1, 8) .. string.sub(id, 10, 13), 16))
end

local function slug_key(job)
  local slug = job_slug(job)
  if slug == nil or slug == cjson.null then return nil end
  local project = job.project_id
  if project == nil or project == cjson.null then project = '' end
  return project .. '\n' .. slug
end

-- The job whose slug key (slug_key) is sk, or nil. A job without project
-- whose slug is its name has no entry of its own: its name's stands for it.
local function slug_owner(sk)
  local id = idx_get(sk)
  if id or string.sub(sk, 1, 1) ~= '\n' then return id end
  id = idx_get(string.sub(sk, 2))
  if id and slug_key(job_decode(job_raw(id))) == sk then return id end
  return nil
end
-- Enter a live job in the names index, or drop what points at it there.
local function own_slug_entry(job)
  local sk = slug_key(job)
  if sk and sk ~= '\n' .. job.name then return sk end
  return nil
end
local function index_job(id, job)
  idx_set(job.name, id)
  local sk = own_slug_entry(job)
  if sk then idx_set(sk, id) end
end
local function unindex_job(id, job)
  idx_drop(job.name, id)
  local sk = own_slug_entry(job)
  if sk then idx_drop(sk, id) end
end

local function k_run(id) return T .. ':run:' .. id end
local function k_job_runs(id) return T .. ':job:' .. id .. ':runs' end

local function nshards()
  if not nshards_known then nshards_known = tonumber(redis.call('GET', 'jw:{sched}:shards') or '16') end
  return nshards_known
end
local function shard_of(member, n)
  return tonumber(string.sub(redis.sha1hex(member), 1, 8), 16) % n
end

-- Redis's own clock, in ms: what key expiry (leases) goes by.
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ---- The checks of arguments (see "Arguments are hostile" above) ----------
local SHARDS_MAX = 4096                 -- config schedule_shards
local SCHED_LEASE_MAX = 60000           -- config schedule_lease_ms (ms)
local RUN_LEASE_MAX = 600000            -- config run_lease_ms (ms)
local RETENTION_MAX = 3650 * 86400000   -- config run_retention_days (ms)
local TIME_MAX = 1e15                   -- an epoch time in ms (year 33658)
local CLOCK_SKEW_MAX = 3600000          -- an instance's clock against Redis's (ms)
local ROOM_MAX = 10000000               -- config max_inflight, with room to spare
local PAGE_MAX = 1000                   -- a page of a list (the API's are at most 200)
local SCAN_MAX = 100000                 -- items one call looks at (sweeps, health)
local QUOTA_MAX = 1e12                   -- config quota_*, and a limit a super_admin sets
local AHEAD_MAX = 4000                  -- how long before its time a run may be started (ms; run_promote)
-- (made of literals: the library's code may not call string functions
-- while it loads)
local function bad_arg(what) error('jobwheel: ' .. what, 0) end
-- a lower-case UUID (the ids jobwheel makes, and tenant ids): five runs of
-- hex digits joined by dashes, the dashes where a UUID has them (which
-- fixes the runs' lengths) — a third cheaper than one class per digit
local ID_RUNS = '^[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+$'
local function is_id(s)
  return type(s) == 'string' and #s == 36 and string.byte(s, 9) == 45 and string.byte(s, 14) == 45 and
         string.byte(s, 19) == 45 and string.byte(s, 24) == 45 and string.find(s, ID_RUNS) ~= nil
end
-- KEYS: one key, a tenant's, a shard's (returns its number) or jw:{sched}
local function want_tenant()
  if #KEYS ~= 1 or not is_id(TENANT) then bad_arg('KEYS[1] must be jw:{<tenant id>}, and the only key') end
end
local function want_sched()
  if #KEYS ~= 1 or T ~= 'jw:{sched}' then bad_arg('KEYS[1] must be jw:{sched}, and the only key') end
end
local function want_shard_key()
  local n = #KEYS == 1 and tonumber(string.match(T, '^jw:{s:(%d%d?%d?%d?)}$'))
  if not n or 'jw:{s:' .. n .. '}' ~= T or n >= nshards() then -- (no leading zeros)
    bad_arg('KEYS[1] must be jw:{s:<n>}, n a shard (below ' .. nshards() .. '), and the only key')
  end
  return n
end
-- ARGV[i]: a whole number in decimal from lo to hi (the number)
local function want_int(i, lo, hi, what)
  local v = ARGV[i]
  local n = type(v) == 'string' and #v <= 17 and string.find(v, '^%-?%d+$') and tonumber(v)
  if not n or n < lo or n > hi then
    bad_arg('ARGV[' .. i .. '] (' .. what .. ') must be a whole number from ' .. lo .. ' to ' .. hi)
  end
  return n
end
-- ARGV[i]: a time in ms (before 1970 too: a run may be asked for then)
local function want_time(i, what) return want_int(i, -TIME_MAX, TIME_MAX, what or 'now, ms') end
-- ARGV[i]: now, in ms, within CLOCK_SKEW_MAX of Redis's own clock (for what
-- outlives the call and is shared: heartbeats, library use)
local function want_clock(i)
  local now = want_time(i)
  if math.abs(now - redis_ms()) > CLOCK_SKEW_MAX then
    bad_arg('ARGV[' .. i .. '] (now, ms) is more than ' .. CLOCK_SKEW_MAX .. ' ms away from Redis\'s clock')
  end
  return now
end
-- ARGV[i]: an id that names keys
local function want_id(i, what)
  local v = ARGV[i]
  if not is_id(v) then bad_arg('ARGV[' .. i .. '] (' .. what .. ') must be a lower-case UUID') end
  return v
end
-- ARGV[i]: an instance id ("" too when none may be named)
local function want_instance(i, none_ok)
  local v = ARGV[i]
  if none_ok and v == '' then return v end
  if type(v) ~= 'string' or #v < 1 or #v > 200 or string.find(v, '[^ -~]') then
    bad_arg('ARGV[' .. i .. '] (instance id) must be 1 to 200 printable ASCII characters')
  end
  return v
end
-- ARGV[i]: a shard number, below the shard count
local function want_shard(i) return want_int(i, 0, nshards() - 1, 'shard') end
-- the arguments from ARGV[i] on must be exactly groups of n
local function want_groups(i, n, what)
  if #ARGV < i or (#ARGV - i + 1) % n ~= 0 then
    bad_arg('ARGV from ' .. i .. ' must be groups of ' .. n .. ' (' .. what .. ')')
  end
end
-- A shard's key prefix "jw:{s:<n>}" (n a number or its text), kept for the
-- library's life: there are few shards, and making the text of a number
-- costs Lua a sprintf.
local shard_tags = {}
local function shard_tag(n)
  local t = shard_tags[n]
  if not t then
    t = 'jw:{s:' .. n .. '}'
    shard_tags[n] = t
  end
  return t
end
local function k_due(shard) return shard_tag(shard) .. ':due' end
-- A job's name for the scheduler, its due set and its member there.
local function due_name(job_id) return TENANT .. ':' .. job_id end
-- the shard of a job's schedule and of its runs (remembered for the call)
local function job_shard(job_id)
  local n = shards[job_id]
  if not n then
    n = shard_of(due_name(job_id), nshards())
    shards[job_id] = n
  end
  return n
end
local function due_key(job_id) return k_due(job_shard(job_id)) end
local function due_member(job_id) return id_pack(TENANT) .. id_pack(job_id) end
-- a member's name again
local function due_member_name(member)
  return id_unpack(string.sub(member, 1, 16)) .. ':' .. id_unpack(string.sub(member, 17))
end
local function k_changes(shard) return shard_tag(shard) .. ':changes' end

-- Set (due = ms) or clear (due = nil) a job's next firing (fresh: the job
-- is new, it had none). The shard's
-- owner is told only when the old or the new time is near (its window looks
-- at most schedule_window_ms, 3 s, ahead): a far firing it reads with its
-- window when the time comes, so a bulk registration leaves no backlog.
local CHANGE_HORIZON_MS = 60000
-- (change_near: now + CHANGE_HORIZON_MS, read once per call)
local function set_due(job_id, due, fresh)
  local member = due_member(job_id)
  local shard = job_shard(job_id)
  local old = not fresh and redis.call('ZSCORE', k_due(shard), member)
  if due then
    redis.call('ZADD', k_due(shard), due, member)
  else
    redis.call('ZREM', k_due(shard), member)
  end
  if not change_near then
    change_near = redis_ms() + CHANGE_HORIZON_MS
  end
  local near = change_near
  if (old and tonumber(old) <= near) or (due and tonumber(due) <= near) then
    redis.call('RPUSH', k_changes(shard), member)
    redis.call('LTRIM', k_changes(shard), -10000, -1)
  end
end

local function next_run_at(job_id)
  return redis.call('ZSCORE', due_key(job_id), due_member(job_id)) or false
end

local OPEN_STATES = {delayed = true, pending = true, waiting = true, running = true}

local function run_member(run_id) return TENANT .. ':' .. run_id end
-- The tenant's ready and delayed queues in a shard. A run joins one with
-- ready_add / delayed_add, which also list the tenant for the sweep: in
-- the ready list once per call and shard, in the delayed list at its
-- earliest time (once per call, shard and earlier time; `listed` keeps
-- what this call did). A run leaves with a ZREM; the sweep drops a tenant
-- from a list once its queue is empty, and moves its time on.
local function k_ready(shard) return shard_tag(shard) .. ':ready:' .. TENANT end
local function k_delayed(shard) return shard_tag(shard) .. ':delayed:' .. TENANT end
local function ready_add(shard, score, member)
  redis.call('ZADD', k_ready(shard), score, member)
  if not listed[shard] then
    listed[shard] = true
    redis.call('ZADD', shard_tag(shard) .. ':ready_tenants', 0, TENANT)
  end
end
-- (due_text: due as text when the caller has it — a number given to
-- redis.call costs a printf, and Redis parses it back)
local function delayed_add(shard, due, member, due_text)
  redis.call('ZADD', k_delayed(shard), due_text or due, member)
  local key = -1 - shard -- the earliest time listed in this call
  if not listed[key] or due < listed[key] then
    listed[key] = due
    redis.call('ZADD', shard_tag(shard) .. ':delayed_tenants', 'LT', due_text or due, TENANT)
  end
end
local function k_running(shard) return shard_tag(shard) .. ':running' end

-- For the scripts of one shard, P = "jw:{s:<n>}" (run_sweep, run_promote),
-- where runs of every tenant meet. A member "<tenant>:<run>" names both.
local function member_parts(m) return string.match(m, '^(.*):([^:]*)$') end
-- Run member m of tenant joins its ready queue in shard P (`seen`: the
-- tenants this call listed already).
local function shard_ready(P, tenant, score, m, seen)
  redis.call('ZADD', P .. ':ready:' .. tenant, score, m)
  if not seen[tenant] then
    seen[tenant] = true
    redis.call('ZADD', P .. ':ready_tenants', 0, tenant)
  end
end
-- Shard P's delayed runs due by `now` become ready (pending), every tenant
-- with some due getting its share of `limit`, the earliest first; their
-- members are appended to out. Each tenant's time in the delayed list moves
-- on to its next run. Returns whether runs are still due (call again) and
-- the shard's next due time (-1: none).
-- Tenant's time in a shard's delayed list (listed_at) moves on to its
-- queue q's first run, or the tenant leaves the list.
local function delayed_relist(listed_at, q, tenant)
  local first = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', listed_at, first[2], tenant)
  else
    redis.call('ZREM', listed_at, tenant)
  end
end
local function shard_promote(P, now, limit, out, seen)
  seen = seen or {}
  local listed_at = P .. ':delayed_tenants'
  local due = redis.call('ZRANGEBYSCORE', listed_at, '-inf', now, 'LIMIT', 0, limit)
  local share = math.floor(limit / math.max(#due, 1))
  for _, tenant in ipairs(due) do
    local q = P .. ':delayed:' .. tenant
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', now, 'LIMIT', 0, share)) do
      redis.call('ZREM', q, m)
      local rk = 'jw:{' .. tenant .. '}:run:' .. string.sub(m, #tenant + 2)
      if redis.call('HGET', rk, 'status') == 'delayed' then
        redis.call('HSET', rk, 'status', 'pending')
        shard_ready(P, tenant, now, m, seen)
        out[#out + 1] = m
      end
    end
    delayed_relist(listed_at, q, tenant)
  end
  local next_due = redis.call('ZRANGE', listed_at, 0, 0, 'WITHSCORES')[2]
  next_due = next_due and tonumber(next_due) or -1
  return next_due >= 0 and next_due <= now, next_due
end
local function k_job_open(id) return T .. ':job:' .. id .. ':open' end
local function k_job_active(id) return T .. ':job:' .. id .. ':active' end
local function k_job_waiting(id) return T .. ':job:' .. id .. ':waiting' end
local function k_job_rate(id) return T .. ':job:' .. id .. ':rate' end

-- Long values apart. Redis keeps a hash whose values are all at most 64
-- bytes (hash-max-listpack-value's default) as one listpack; a single
-- longer value makes the whole run a hashtable, about twice the memory. So
-- a run's payload, params, result, error, progress, attempt log or trace
-- longer than that is stored apart, as the string key `<run key>:<name>` (the run's hash
-- slot), and `_big` lists the names so stored ("payload result"); the
-- run's retention and deletion take them along (run_ended, run_delete).
-- A value is stored apart only while every build in use reads it so
-- (lib_seen.lua tells each instance, which tells the script: `allowed`);
-- until then it is stored in the hash, as every build reads it. Writers go
-- through run_write, readers through hgetall_table, run_all or big_get.
local LONG = 64
local BIG_FIELDS = {'payload', 'params', 'result', 'error', 'progress', 'attempts', 'execution_trace'}
local IS_BIG = {payload = true, params = true, result = true, error = true, progress = true, attempts = true,
                execution_trace = true}

-- Write the name/value pairs `flat` (text) into the run at `key`, whose
-- `_big` is `big` (nil: none), a long value of IS_BIG apart when `allowed`.
-- A later pair of a name wins, as in HSET. Returns the run's `_big` now
-- (nil: none). (run_create writes a new run's own way.)
local function run_write(key, flat, big, allowed)
  -- as they are unless one goes apart or replaces one that is (no name of
  -- BIG_FIELDS is found within another)
  local touch = false
  if big or allowed then
    for i = 1, #flat, 2 do
      local name = flat[i]
      if IS_BIG[name] and ((allowed and #flat[i + 1] > LONG) or (big and string.find(big, name, 1, true))) then
        touch = true
        break
      end
    end
  end
  if not touch then
    redis.call('HSET', key, unpack(flat))
    return big
  end
  local apart, last = {}, {}
  for name in string.gmatch(big or '', '%S+') do apart[name] = true end
  for i = 1, #flat, 2 do if IS_BIG[flat[i]] then last[flat[i]] = i end end
  local out, dels = {}, {}
  for i = 1, #flat, 2 do
    local name, v = flat[i], flat[i + 1]
    if not IS_BIG[name] then
      if name ~= '_big' then out[#out + 1], out[#out + 2] = name, v end
    elseif last[name] == i then
      if allowed and #v > LONG then
        redis.call('SET', key .. ':' .. name, v)
        if not apart[name] then dels[#dels + 1] = name end -- (it may be in the hash)
        apart[name] = true
      else
        if apart[name] then redis.call('DEL', key .. ':' .. name) end
        apart[name] = nil
        out[#out + 1], out[#out + 2] = name, v
      end
    end
  end
  local listed = {}
  for i = 1, #BIG_FIELDS do
    if apart[BIG_FIELDS[i]] then listed[#listed + 1] = BIG_FIELDS[i] end
  end
  local after = #listed > 0 and table.concat(listed, ' ') or nil
  if after then
    out[#out + 1], out[#out + 2] = '_big', after
  elseif big then
    dels[#dels + 1] = '_big'
  end
  if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
  redis.call('HSET', key, unpack(out))
  return after
end

-- The field `name` of the run at `key`, given what HMGET read of it
-- (`plain`) and of its `_big` (`big`).
local function big_get(key, big, name, plain)
  if plain or not big or not string.find(big, name, 1, true) then return plain end
  return redis.call('GET', key .. ':' .. name) or false
end

local function hgetall_table(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  if t._big then
    for name in string.gmatch(t._big, '%S+') do t[name] = redis.call('GET', key .. ':' .. name) or nil end
  end
  return t
end

-- A run's fields as HGETALL gives them (flat: name, value, ...), with its
-- values stored apart (and without `_big`).
local function run_all(key)
  local flat = redis.call('HGETALL', key)
  local at
  for i = 1, #flat, 2 do
    if flat[i] == '_big' then at = i break end
  end
  if not at then return flat end
  local big = flat[at + 1]
  table.remove(flat, at)
  table.remove(flat, at)
  for name in string.gmatch(big, '%S+') do
    local v = redis.call('GET', key .. ':' .. name)
    if v then flat[#flat + 1], flat[#flat + 2] = name, v end
  end
  return flat
end

-- Delete the run `id`, whose `_big` is `big`, and what it keeps apart.
local function run_delete(id, big)
  local keys = {k_run(id)}
  for name in string.gmatch(big or '', '%S+') do keys[#keys + 1] = keys[1] .. ':' .. name end
  redis.call('DEL', unpack(keys))
end

-- A run's attempt log `cur` (a JSON array, or nil) with one JSON object
-- appended.
local function attempts_with(cur, entry)
  if not cur or cur == '' or cur == '[]' then return '[' .. entry .. ']' end
  return string.sub(cur, 1, -2) .. ',' .. entry .. ']'
end

local function k_job_depwait(id) return T .. ':job:' .. id .. ':depwait' end

-- ---- Quotas ------------------------------------------------------------------
-- What a tenant may hold or do: jobs, schedules, runs_per_minute, inflight
-- and run_history. A limit is what a super_admin set in <T>:quota, else
-- the default the calling instance was configured with, which a script
-- that enforces a quota puts in Q.defaults from its arguments; 0 is no
-- limit. Over a limit a script answers Q.over(...) before its first write,
-- except a firing, which is recorded as skipped instead.
function Q.limit(name)
  if not Q.limits then
    Q.limits = {}
    local all = redis.call('HGETALL', T .. ':quota')
    for i = 1, #all, 2 do Q.limits[all[i]] = tonumber(all[i + 1]) end
  end
  return Q.limits[name] or tonumber(Q.defaults[name] or '0') or 0
end
-- {"quota", name, limit, used, ms until a retry may succeed}
function Q.over(name, limit, used, retry_ms) return {'quota', name, limit, used, retry_ms} end

-- Jobs and schedules are counted in <T>:usage as jobs change (job_save,
-- job_delete); a tenant from before quotas is counted once, from its jobs.
function Q.live(job) return job.system ~= true and (job.deleted_at == nil or job.deleted_at == cjson.null) end
function Q.timed(job)
  local function set(v) return v ~= nil and v ~= cjson.null end
  return Q.live(job) and (set(job.cron) or set(job.interval_seconds) or set(job.run_at))
end
function Q.counts()
  local c = redis.call('HMGET', T .. ':usage', 'jobs', 'schedules')
  if c[1] then return tonumber(c[1]), tonumber(c[2] or '0') end
  local jobs, timed = 0, 0
  for _, json in ipairs(redis.call('HVALS', K_JOBS)) do
    local job = job_decode(json)
    if Q.live(job) then jobs = jobs + 1 end
    if Q.timed(job) then timed = timed + 1 end
  end
  redis.call('HSET', T .. ':usage', 'jobs', jobs, 'schedules', timed)
  return jobs, timed
end
-- (after Q.counts in the same call)
function Q.count(djobs, dtimed)
  if djobs ~= 0 then redis.call('HINCRBY', T .. ':usage', 'jobs', djobs) end
  if dtimed ~= 0 then redis.call('HINCRBY', T .. ':usage', 'schedules', dtimed) end
end

-- Runs made per minute: a counter per minute while there is a limit.
-- Q.rpm_check(now, n): may n runs more be made this minute (true, or
-- false, limit, used); Q.rpm_add counts them; Q.rpm_wait, the ms until
-- the next minute.
function Q.rpm_key(now) return T .. ':rpm:' .. math.floor(now / 60000) end
function Q.rpm_check(now, n)
  local limit = Q.limit('runs_per_minute')
  if limit <= 0 or n <= 0 then return true end
  local used = tonumber(redis.call('GET', Q.rpm_key(now)) or '0')
  if used + n > limit then return false, limit, used end
  return true
end
function Q.rpm_add(now, n)
  if n <= 0 or Q.limit('runs_per_minute') <= 0 then return end
  redis.call('INCRBY', Q.rpm_key(now), n)
  redis.call('PEXPIRE', Q.rpm_key(now), 120000)
end
function Q.rpm_wait(now) return 60000 - now % 60000 end

-- Run history: room for n more runs in <T>:runs, made by deleting the
-- oldest ended runs; false, limit, used when the runs kept are too many
-- still open to make it.
function Q.room(n)
  local limit = Q.limit('run_history')
  if limit <= 0 then return true end
  local used = redis.call('ZCARD', K_RUNS)
  local need = used + n - limit
  if need <= 0 then return true end
  local ids = redis.call('ZRANGE', K_RUNS, 0, need * 2 + 99)
  local gone = {}
  for _, id in ipairs(ids) do
    if #gone >= need then break end
    local f = redis.call('HMGET', k_run(id), 'status', 'job_id', '_big')
    if not f[1] or not OPEN_STATES[f[1]] then
      gone[#gone + 1] = id
      run_delete(id, f[3] or nil)
      if f[2] then redis.call('ZREM', k_job_runs(f[2]), id) end
    end
  end
  if #gone > 0 then call_chunked('ZREM', K_RUNS, gone) end
  if #gone < need then return false, limit, used end
  return true
end

-- A request is about to make n runs: nil when the runs_per_minute and
-- run_history quotas let them be made (counted, and room made), else the
-- Q.over answer (nothing of the request's own is written; ended runs past
-- the history may have been dropped).
function Q.make(now, n)
  local ok, limit, used = Q.rpm_check(now, n)
  if not ok then return Q.over('runs_per_minute', limit, used, Q.rpm_wait(now)) end
  ok, limit, used = Q.room(n)
  if not ok then return Q.over('run_history', limit, used, 60000) end
  Q.rpm_add(now, n)
  return nil
end

-- Calls in flight: <T>:inflight holds the runs whose attempt is running
-- here or on another instance (not a worker's: a 202 hands the run over).
local function k_inflight() return T .. ':inflight' end
local function k_inflight_waiting() return T .. ':inflight:waiting' end
-- Is the tenant at its inflight limit?
function Q.busy()
  local limit = Q.limit('inflight')
  return limit > 0 and redis.call('SCARD', k_inflight()) >= limit
end
-- A run the inflight quota holds: it waits (status waiting) until a call
-- of its tenant ends.
function Q.hold(run_id, score)
  redis.call('ZADD', k_inflight_waiting(), score, run_id)
  Q.none_held = false
end
-- run_id's call ended (or the run ended): it leaves the in-flight set, and
-- when it was there the first run the quota held becomes ready; its
-- member is appended to out.
function Q.done(run_id, out)
  if redis.call('SREM', k_inflight(), run_id) == 0 then return end
  Q.release(1, out)
end
-- Up to n held runs become ready (members appended to out).
-- (Q.none_held: this call found none held, and held none since)
function Q.release(n, out)
  if Q.none_held then return end
  local wkey = k_inflight_waiting()
  local ids = redis.call('ZRANGE', wkey, 0, n - 1)
  Q.none_held = #ids < n -- (all of them are taken below)
  for _, id in ipairs(ids) do
    redis.call('ZREM', wkey, id)
    local shard = redis.call('HGET', k_run(id), '_shard')
    if shard then
      redis.call('HSET', k_run(id), 'status', 'pending')
      ready_add(tonumber(shard), 0, run_member(id))
      out[#out + 1] = run_member(id)
    end
  end
end

-- Do a job's prerequisites let it run? Each prerequisite's latest run must
-- have completed (AllSucceeded), or, among AnySucceeded ones, at least one.
local function deps_satisfied(job_id)
  if memo.no_deps[job_id] then return true end
  local deps = redis.call('HGETALL', k_job_deps(job_id))
  if #deps == 0 then
    memo.no_deps[job_id] = true
    return true
  end
  local all_ok, any_seen, any_ok = true, false, false
  for i = 1, #deps, 2 do
    local dep = redis.call('HGET', K_DEPS, deps[i + 1])
    local cond = dep and cjson.decode(dep).condition or 'AllSucceeded'
    local last = redis.call('ZREVRANGE', k_job_runs(deps[i]), 0, 0)[1]
    local ok = last and redis.call('HGET', k_run(last), 'status') == 'completed'
    if cond == 'AnySucceeded' then
      any_seen = true
      if ok then any_ok = true end
    elseif not ok then
      all_ok = false
    end
  end
  return all_ok and (not any_seen or any_ok)
end

-- A run id made from two others, shaped as a UUID (so the run a prerequisite
-- run triggers in a dependent job is made once, whoever asks twice).
local function derived_id(a, b)
  local h = redis.sha1hex(a .. ':' .. b)
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) .. '-a' ..
         string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end

-- The run of job `dep_job` that prerequisite run `from` starts, ready.
local function trigger_dependent(dep_job, from, now, retention)
  local id = derived_id(from, dep_job)
  local key = k_run(id)
  if redis.call('EXISTS', key) == 1 then return nil end
  local job = job_decode(job_raw(dep_job))
  local shard = job_shard(dep_job)
  redis.call('HSET', key, 'id', id, 'job_id', dep_job, 'status', 'pending', 'triggered_by', 'dependency',
             'parent_run_id', from, 'job_version', job_version(job), 'job_version_id', job_version_id(dep_job, job),
             'created_by', 'scheduler', 'created_at', now, '_shard', shard, '_retention', retention or 2592000000)
  if job.project_id then redis.call('HSET', key, 'project_id', job.project_id) end
  redis.call('ZADD', K_RUNS, now, id)
  redis.call('ZADD', k_job_runs(dep_job), now, id)
  redis.call('SADD', k_job_open(dep_job), id)
  ready_add(shard, now, run_member(id))
  return run_member(id)
end

-- A run of job_id ended: the jobs depending on it may go on. Their runs
-- held by prerequisites become ready, and a dependent without a schedule
-- of its own gets a run. Appends the members to start to `out`.
local function release_dependents(job_id, run_id, now, retention, out)
  local dependents = memo.dependents[job_id]
  if not dependents then
    dependents = redis.call('HKEYS', k_job_dependents(job_id))
    memo.dependents[job_id] = dependents
  end
  for _, d in ipairs(dependents) do
    if deps_satisfied(d) then
      local held = redis.call('ZRANGE', k_job_depwait(d), 0, -1)
      redis.call('DEL', k_job_depwait(d))
      local shard = job_shard(d)
      for _, id in ipairs(held) do
        redis.call('HSET', k_run(id), 'status', 'pending')
        ready_add(shard, now, run_member(id))
        out[#out + 1] = run_member(id)
      end
      local json = job_raw(d)
      local job = json and job_decode(json)
      if job and not job.cron and not job.interval_seconds and not job.run_at and not job.deleted_at
         and job.enabled ~= false and job.paused ~= true then
        local m = trigger_dependent(d, run_id, now, retention)
        if m then out[#out + 1] = m end
      end
    end
  end
end

local function k_wfrun(id) return T .. ':wfrun:' .. id end

-- Start a workflow step: its run becomes ready and is counted in the step
-- table. A step whose job is gone is skipped. Returns the member to start
-- (nil when skipped).
local function start_step(wfrun_id, step, now, retention, who)
  local steps_key = k_wfrun(wfrun_id) .. ':steps'
  local job_json = job_raw(step.job_id)
  if not job_json then
    redis.call('HSET', steps_key, step.key, 'skipped')
    return nil
  end
  local id = derived_id(wfrun_id, step.key)
  local key = k_run(id)
  local job = job_decode(job_json)
  local shard = job_shard(step.job_id)
  redis.call('HSET', key, 'id', id, 'job_id', step.job_id, 'status', 'pending', 'triggered_by', 'workflow',
             'workflow_step_run_id', wfrun_id .. ':' .. step.key, 'job_version', job_version(job),
             'job_version_id', job_version_id(step.job_id, job), 'created_by', who or 'scheduler', 'created_at', now,
             '_shard', shard, '_retention', retention)
  if job.project_id then redis.call('HSET', key, 'project_id', job.project_id) end
  redis.call('ZADD', K_RUNS, now, id)
  redis.call('ZADD', k_job_runs(step.job_id), now, id)
  redis.call('SADD', k_job_open(step.job_id), id)
  ready_add(shard, now, run_member(id))
  redis.call('HSET', steps_key, step.key, id)
  return run_member(id)
end

-- After a step's run ended: start the steps it unblocks, skip those it
-- dooms, and end the workflow run when every step is settled.
local function advance_workflow(wfrun_id, now, out)
  local wkey = k_wfrun(wfrun_id)
  local wf_id = redis.call('HGET', wkey, 'workflow_id')
  if not wf_id or redis.call('HGET', wkey, 'status') ~= 'running' then return end
  local wf_json = redis.call('HGET', K_WORKFLOWS, wf_id)
  if not wf_json then return end
  local steps = cjson.decode(wf_json).steps
  local retention = redis.call('HGET', wkey, '_retention')
  local state = {}
  local function status_of(key)
    if state[key] then return state[key] end
    local v = redis.call('HGET', wkey .. ':steps', key)
    local st
    if not v then st = 'not_started'
    elseif v == 'skipped' then st = 'skipped'
    else st = redis.call('HGET', k_run(v), 'status') or 'gone' end
    state[key] = st
    return st
  end
  local changed = true
  while changed do
    changed = false
    for _, step in ipairs(steps) do
      if status_of(step.key) == 'not_started' then
        local ended, ok, total = 0, 0, #step.depends_on
        for _, d in ipairs(step.depends_on) do
          local st = status_of(d)
          if not OPEN_STATES[st] and st ~= 'not_started' then ended = ended + 1 end
          if st == 'completed' then ok = ok + 1 end
        end
        local go, skip
        if step.condition == 'AnySucceeded' then
          go, skip = ok > 0, ended == total and ok == 0
        else
          go, skip = ok == total, ended > ok
        end
        if go then
          local m = start_step(wfrun_id, step, now, retention, redis.call('HGET', wkey, 'created_by'))
          if m then out[#out + 1] = m end
          state[step.key] = m and 'pending' or 'skipped'
          changed = true
        elseif skip then
          redis.call('HSET', wkey .. ':steps', step.key, 'skipped')
          state[step.key] = 'skipped'
          changed = true
        end
      end
    end
  end
  -- settled? completed when every step completed, failed otherwise
  local all_done, all_ok = true, true
  for _, step in ipairs(steps) do
    local st = status_of(step.key)
    if OPEN_STATES[st] or st == 'not_started' then all_done = false end
    if st ~= 'completed' then all_ok = false end
  end
  if all_done then
    redis.call('HSET', wkey, 'status', all_ok and 'completed' or 'failed', 'finished_at', now)
    redis.call('PEXPIRE', wkey, retention)
    redis.call('PEXPIRE', wkey .. ':steps', retention)
  end
end

-- Start a run of workflow `ref` (id or name) with the given run id; a run
-- id already used answers that run (so a retried firing starts one).
-- Returns {"ok", workflow id, status, members to start...} or nil when
-- there is no such workflow.
local function trigger_workflow(ref, run_id, now, retention, who)
  local id = redis.call('HGET', K_WORKFLOWS .. ':names', ref) or ref
  local json = redis.call('HGET', K_WORKFLOWS, id)
  if not json then return nil end
  local wkey, runs = k_wfrun(run_id), T .. ':workflow:' .. id .. ':runs'
  if redis.call('EXISTS', wkey) == 1 then
    return {'ok', id, redis.call('HGET', wkey, 'status')}
  end
  redis.call('HSET', wkey, 'id', run_id, 'workflow_id', id, 'status', 'running', 'created_at', now,
             'created_by', who, '_retention', retention)
  redis.call('ZREMRANGEBYSCORE', runs, '-inf', now - retention)
  redis.call('ZADD', runs, now, run_id)
  local out = {'ok', id, 'running'}
  for _, step in ipairs(cjson.decode(json).steps) do
    if #step.depends_on == 0 then
      local m = start_step(run_id, step, now, retention, who)
      if m then out[#out + 1] = m end
    end
  end
  -- steps whose root jobs are gone may settle the run at once
  advance_workflow(run_id, now, out)
  out[3] = redis.call('HGET', wkey, 'status')
  -- a run, finished or not, is forgotten after the history retention
  redis.call('PEXPIRE', wkey, retention)
  redis.call('PEXPIRE', wkey .. ':steps', retention)
  return out
end

-- A run has ended: it leaves every queue and limit set; the first run its
-- job held back (if any) becomes ready, and so may its dependents' runs.
-- now: ms (nil: Redis's clock). freed: the run was running and its caller
-- has taken it out of the active sets and the running zset (or will, in
-- the same script); a running run is in no other queue: starting took it
-- out of the ready and delayed ones, and it was in no waiting or
-- prerequisite queue, since a run leaves those only to become pending
-- (run_ended pops the waiting queue, release_dependents empties the
-- prerequisite one). run.workflow_step_run_id false: known to have none.
-- Returns the members to start now (a list, maybe empty).
local function run_ended(run_id, run, now, freed)
  local job, shard = run.job_id, tonumber(run._shard)
  -- what only an attempt in progress needs goes: an ended run is kept for
  -- its retention, and these would be a tenth of it
  redis.call('HDEL', k_run(run_id), '_instance', '_phase', '_attempt_started', '_fallback')
  if run._retention then
    redis.call('PEXPIRE', k_run(run_id), run._retention)
    if run._big then
      for name in string.gmatch(run._big, '%S+') do
        redis.call('PEXPIRE', k_run(run_id) .. ':' .. name, run._retention)
      end
    end
  end
  redis.call('SREM', k_job_open(job), run_id)
  if not freed then
    local member = run_member(run_id)
    redis.call('SREM', k_job_active(job), run_id)
    if run.concurrency_key then redis.call('SREM', k_job_active(job) .. ':' .. run.concurrency_key, run_id) end
    redis.call('ZREM', k_ready(shard), member)
    redis.call('ZREM', k_delayed(shard), member)
    redis.call('ZREM', k_running(shard), member)
    redis.call('ZREM', k_job_waiting(job), run_id)
    redis.call('ZREM', k_job_depwait(job), run_id)
    redis.call('ZREM', k_inflight_waiting(), run_id)
  end
  local out = {}
  Q.done(run_id, out)
  local next = not memo.idle[job] and redis.call('ZRANGE', k_job_waiting(job), 0, 0)[1]
  if next then
    redis.call('ZREM', k_job_waiting(job), next)
    redis.call('HSET', k_run(next), 'status', 'pending')
    ready_add(shard, 0, run_member(next))
    out[#out + 1] = run_member(next)
  else
    memo.idle[job] = true
  end
  now = now or tonumber(redis.call('TIME')[1]) * 1000
  release_dependents(job, run_id, now, run._retention, out)
  local step = run.workflow_step_run_id
  if step == nil then step = redis.call('HGET', k_run(run_id), 'workflow_step_run_id') end
  local wfrun_id = step and string.match(step, '^(.*):[^:]*$')
  if wfrun_id then advance_workflow(wfrun_id, now, out) end
  return out
end

-- A page of a run index (a zset of run ids by creation time), newest first,
-- scores in [min, max], after a cursor (cscore "" = from the newest; at the
-- cursor's score, ids below cid). take(id) gives what a run adds to the
-- page (a list), or nil to leave it out. A page examines a bounded number
-- of runs and may come back short with has_more = 1.
-- Returns {has_more, next score, next id, items...}.
local function runs_page(index, max, min, cscore, cid, limit, take)
  local budget = math.max(1000, limit * 20)
  local out, count, offset, more = {}, 0, 0, 0
  local last_score, last_id = nil, nil
  while more == 0 do
    local page = redis.call('ZREVRANGEBYSCORE', index, max, min, 'WITHSCORES', 'LIMIT', offset, 200)
    if #page == 0 then break end
    offset = offset + #page / 2
    for i = 1, #page, 2 do
      local id, score = page[i], page[i + 1]
      if not (cscore ~= '' and tonumber(score) == tonumber(cscore) and id >= cid) then
        if count == limit or budget == 0 then more = 1; break end
        budget = budget - 1
        last_score, last_id = score, id
        local items = take(id)
        if items then
          count = count + 1
          for _, item in ipairs(items) do out[#out + 1] = item end
        end
      end
    end
  end
  return {more, last_score or '', last_id or '', unpack(out)}
end

-- Start the next attempt of run `run_id` if its limits allow: `run` is a
-- table of the run's fields (a pending run, or a delayed one that is due),
-- job_json its job as stored (false: the job is gone), job that JSON
-- decoded or nil. The answers of run_start (which see), without the run's
-- fields after "started": {"started", attempt, job JSON, secret or false}.
-- Shared by run_start and by run_create, which starts a run it makes when
-- the instance that triggers it has room (one step instead of two); fresh:
-- the run was just made and put in no queue yet; else queue: the one queue
-- of its shard it is in ("ready" or "delayed"), or nil when not known.
-- The fields of a started run the execution engine reads (exec/dispatcher.c
-- started() and launch(); keep in step): run_start answers only these, as
-- every other field is only weight on the wire and in the reply's making.
-- A run's fields for the engine as one string, names and values joined by
-- NUL bytes (one reply string, not one per field; jw_run_fields_unpack
-- reads it). Stored values hold no NUL: each was checked at the edge (JSON
-- text, ids, times, words); were one to, it would read as a space rather
-- than split its pairs.
local function pack_fields(flat)
  for i = 1, #flat do -- (a plain find: the pattern '%z' costs ~20 ns a byte)
    if string.find(flat[i], '\0', 1, true) then flat[i] = (string.gsub(flat[i], '%z', ' ')) end
  end
  return table.concat(flat, '\0')
end
local START_FIELDS = {'payload', 'params', '_shard', '_fallback', 'notify', 'scheduled_at', 'created_at',
                      'next_retry_at', 'retry_backoff', 'retry_initial_delay_secs', 'retry_max_delay_secs',
                      'timeout_secs_override', 'max_attempts_override', '_attempt_started'}
local function start_attempt(run_id, run, job_json, job, instance, now, lease, fresh, queue)
  local key = k_run(run_id)
  local shard, member = tonumber(run._shard), run_member(run_id)
  if not job_json then
    run_write(key, {'status', 'failed', 'error', 'the job was deleted', 'finished_at', now}, run._big, false)
    local out = {'ended'}
    for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
    return out
  end
  if run.expires_at and now > tonumber(run.expires_at) then
    run_write(key, {'status', 'expired', 'finished_at', now, 'error', 'not started before expires_at (run_ttl_secs)'},
              run._big, false)
    local out = {'ended'}
    for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
    return out
  end
  if not deps_satisfied(run.job_id) then
    redis.call('HSET', key, 'status', 'waiting')
    redis.call('ZREM', k_ready(shard), member)
    redis.call('ZREM', k_delayed(shard), member)
    redis.call('ZADD', k_job_depwait(run.job_id), tonumber(run.created_at), run_id)
    return {'waiting'}
  end
  job = job or job_decode(job_json)
  local function set(v) return v ~= nil and v ~= cjson.null end
  local ckey = run.concurrency_key
  local function unqueue()
    if fresh then return end
    if queue ~= 'delayed' then redis.call('ZREM', k_ready(shard), member) end
    if queue ~= 'ready' then redis.call('ZREM', k_delayed(shard), member) end
  end
  local function wait()
    redis.call('HSET', key, 'status', 'waiting')
    unqueue()
    local prio = tonumber(run.priority or '0')
    redis.call('ZADD', k_job_waiting(run.job_id), tonumber(run.created_at) - prio * 60000, run_id)
    memo.idle[run.job_id] = nil
    return {'waiting'}
  end
  if set(job.max_concurrency) and redis.call('SCARD', k_job_active(run.job_id)) >= job.max_concurrency then
    return wait()
  end
  if set(job.max_concurrency_per_key) and ckey and
     redis.call('SCARD', k_job_active(run.job_id) .. ':' .. ckey) >= job.max_concurrency_per_key then
    return wait()
  end
  -- rate limits: a sliding log of attempt starts per window
  local windows = {}
  if set(job.rate_limit_max) then
    windows[#windows + 1] = {k_job_rate(run.job_id), job.rate_limit_max, job.rate_limit_window_secs * 1000}
  end
  if set(job.rate_limit_keys) and run.metadata then
    local md = cjson.decode(run.metadata)
    for _, rk in ipairs(job.rate_limit_keys) do
      local v = md[rk.name]
      if v ~= nil and v ~= cjson.null then
        windows[#windows + 1] = {k_job_rate(run.job_id) .. ':' .. rk.name .. ':' .. tostring(v), rk.max, rk.window_secs * 1000}
      end
    end
  end
  local free_at = 0
  for _, w in ipairs(windows) do
    redis.call('ZREMRANGEBYSCORE', w[1], '-inf', now - w[3])
    if redis.call('ZCARD', w[1]) >= w[2] then
      local oldest = tonumber(redis.call('ZRANGE', w[1], 0, 0, 'WITHSCORES')[2])
      free_at = math.max(free_at, oldest + w[3])
    end
  end
  if free_at > 0 then
    redis.call('HSET', key, 'status', 'delayed')
    if not fresh then redis.call('ZREM', k_ready(shard), member) end
    delayed_add(shard, free_at, member)
    return {'delayed', free_at, shard}
  end
  -- the tenant's calls in flight (its inflight quota)
  if Q.busy() then
    redis.call('HSET', key, 'status', 'waiting')
    unqueue()
    Q.hold(run_id, tonumber(run.created_at) - tonumber(run.priority or '0') * 60000)
    return {'waiting'}
  end
  local attempt = tonumber(run.attempt or '0') + 1
  -- once each: a number's text costs Lua a sprintf
  local now_s, attempt_s = tostring(now), tostring(attempt)
  if run.started_at then
    redis.call('HSET', key, 'status', 'running', 'attempt', attempt_s, '_instance', instance, '_phase', 'http',
               '_attempt_started', now_s)
  else
    redis.call('HSET', key, 'status', 'running', 'attempt', attempt_s, '_instance', instance, '_phase', 'http',
               '_attempt_started', now_s, 'started_at', now_s)
  end
  -- `run` now reads as the hash does (run_start answers with it)
  run.status, run.attempt, run._instance, run._phase = 'running', attempt_s, instance, 'http'
  run._attempt_started, run.started_at = now_s, run.started_at or now_s
  unqueue()
  redis.call('ZADD', k_running(shard), now + lease, member)
  redis.call('SADD', k_job_active(run.job_id), run_id)
  redis.call('SADD', k_inflight(), run_id)
  if ckey then redis.call('SADD', k_job_active(run.job_id) .. ':' .. ckey, run_id) end
  for _, w in ipairs(windows) do
    redis.call('ZADD', w[1], now, run_id .. ':' .. attempt)
    redis.call('PEXPIRE', w[1], w[3] + 1000)
  end
  -- the secret in clear is kept apart; the job shows it (masked) when it has one
  local secret = false
  if set(job.webhook_secret) then secret = redis.call('HGET', K_JOB_SECRETS, run.job_id) or false end
  local text = memo.json[run.job_id]
  if not text then
    text = with_id(run.job_id, job_json)
    memo.json[run.job_id] = text
  end
  return {'started', attempt, text, secret}
end
