-- prelude.lua: the Redis key schema of jobwheel, in one place. Every script
-- is this file followed by the script's own body (scripts/embed_lua.py).
--
-- KEYS[1] is "jw:{<tenant>}"; every key a script touches starts with it, so
-- the hash tag keeps all of a tenant's keys in one Redis Cluster slot.
--
--   <T>:jobs                 hash  job id -> job JSON (the API form without
--                                  nulls and default values, without the id
--                                  and without updated_at/updated_by while
--                                  they equal created_at/created_by; the
--                                  webhook secret appears masked). What
--                                  scripts return to jobwheel has the id put
--                                  back first (with_id)
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
--   <T>:run:<id> internal fields (never shown): _shard, _retention (ms the
--                                  hash lives once the run ended), _instance (who runs
--                                  the attempt), _phase (http | worker),
--                                  _fallback (1: the next attempt calls the
--                                  fallback URL), _cancel (1: cancel asked)
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
--   <T>:job:<id>:dedup:<sha> string run id of a payload (dedup_window_secs)
--
-- The scheduler's keys are partitioned into shards by a hash of the member
-- "<tenant>:<job id>" (shard_of below; the C side computes the same), each
-- shard under its own hash tag, so shards can live on different nodes and
-- instances split the work by shard:
--   jw:{s:<n>}:due           zset  member -> next nominal firing (ms)
--   jw:{s:<n>}:changes       list  members whose firing changed, for the
--                                  owner to pick up (at most 10000 kept)
--   jw:{s:<n>}:lease         string  the instance that owns the shard (PX)
--   jw:{s:<n>}:ready         zset  "<tenant>:<run>" ready to start, score =
--                                  created_at - priority minutes
--   jw:{s:<n>}:delayed       zset  "<tenant>:<run>" -> when it may start
--   jw:{s:<n>}:running       zset  "<tenant>:<run>" -> when its lease ends
--                                  (renewed by its instance; for a run a
--                                  worker took over, its heartbeat deadline)
--   jw:{sched}:token_key     string  the key run tokens are derived from
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

-- A stored job's JSON as jobwheel reads it: with its id first (false stays
-- false).
local function with_id(id, json)
  if not json then return false end
  return '{"id":"' .. id .. '",' .. string.sub(json, 2)
end
local function job_json(id) return with_id(id, redis.call('HGET', K_JOBS, id)) end

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

local OPEN_STATES = {delayed = true, pending = true, waiting = true, running = true}

local function run_member(run_id) return TENANT .. ':' .. run_id end
local function k_ready(shard) return 'jw:{s:' .. shard .. '}:ready' end
local function k_delayed(shard) return 'jw:{s:' .. shard .. '}:delayed' end
local function k_running(shard) return 'jw:{s:' .. shard .. '}:running' end
local function k_job_open(id) return T .. ':job:' .. id .. ':open' end
local function k_job_active(id) return T .. ':job:' .. id .. ':active' end
local function k_job_waiting(id) return T .. ':job:' .. id .. ':waiting' end
local function k_job_rate(id) return T .. ':job:' .. id .. ':rate' end

-- the shard of a job's runs: the job's schedule shard
local function job_shard(job_id) return shard_of(TENANT .. ':' .. job_id, nshards()) end

local function hgetall_table(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- Append one JSON object to the run's "attempts" JSON array.
local function log_attempt(key, entry)
  local cur = redis.call('HGET', key, 'attempts')
  if not cur or cur == '[]' then
    redis.call('HSET', key, 'attempts', '[' .. entry .. ']')
  else
    redis.call('HSET', key, 'attempts', string.sub(cur, 1, -2) .. ',' .. entry .. ']')
  end
end

local function k_job_depwait(id) return T .. ':job:' .. id .. ':depwait' end

-- Do a job's prerequisites let it run? Each prerequisite's latest run must
-- have completed (AllSucceeded), or, among AnySucceeded ones, at least one.
local function deps_satisfied(job_id)
  local deps = redis.call('HGETALL', k_job_deps(job_id))
  if #deps == 0 then return true end
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
  local job = cjson.decode(redis.call('HGET', K_JOBS, dep_job))
  local shard = job_shard(dep_job)
  redis.call('HSET', key, 'id', id, 'job_id', dep_job, 'status', 'pending', 'triggered_by', 'dependency',
             'parent_run_id', from, 'job_version', tostring(job.version), 'job_version_id', job.version_id,
             'created_by', 'scheduler', 'created_at', now, '_shard', shard, '_retention', retention or 2592000000)
  if job.project_id then redis.call('HSET', key, 'project_id', job.project_id) end
  redis.call('ZADD', K_RUNS, now, id)
  redis.call('ZADD', k_job_runs(dep_job), now, id)
  redis.call('SADD', k_job_open(dep_job), id)
  redis.call('ZADD', k_ready(shard), now, run_member(id))
  return run_member(id)
end

-- A run of job_id ended: the jobs depending on it may go on. Their runs
-- held by prerequisites become ready, and a dependent without a schedule
-- of its own gets a run. Appends the members to start to `out`.
local function release_dependents(job_id, run_id, now, retention, out)
  local dependents = redis.call('HKEYS', k_job_dependents(job_id))
  for _, d in ipairs(dependents) do
    if deps_satisfied(d) then
      local held = redis.call('ZRANGE', k_job_depwait(d), 0, -1)
      redis.call('DEL', k_job_depwait(d))
      local shard = job_shard(d)
      for _, id in ipairs(held) do
        redis.call('HSET', k_run(id), 'status', 'pending')
        redis.call('ZADD', k_ready(shard), now, run_member(id))
        out[#out + 1] = run_member(id)
      end
      local json = redis.call('HGET', K_JOBS, d)
      if json and not string.find(json, '"cron":', 1, true) and not string.find(json, '"interval_seconds":', 1, true)
         and not string.find(json, '"run_at":', 1, true) and not string.find(json, '"deleted_at":', 1, true)
         and not string.find(json, '"enabled":false', 1, true) and not string.find(json, '"paused":true', 1, true) then
        local m = trigger_dependent(d, run_id, now, retention)
        if m then out[#out + 1] = m end
      end
    end
  end
end

local K_WORKFLOWS = T .. ':workflows'
local function k_wfrun(id) return T .. ':wfrun:' .. id end

-- Start a workflow step: its run becomes ready and is counted in the step
-- table. A step whose job is gone is skipped. Returns the member to start
-- (nil when skipped).
local function start_step(wfrun_id, step, now, retention, who)
  local steps_key = k_wfrun(wfrun_id) .. ':steps'
  local job_json = redis.call('HGET', K_JOBS, step.job_id)
  if not job_json then
    redis.call('HSET', steps_key, step.key, 'skipped')
    return nil
  end
  local id = derived_id(wfrun_id, step.key)
  local key = k_run(id)
  local job = cjson.decode(job_json)
  local shard = job_shard(step.job_id)
  redis.call('HSET', key, 'id', id, 'job_id', step.job_id, 'status', 'pending', 'triggered_by', 'workflow',
             'workflow_step_run_id', wfrun_id .. ':' .. step.key, 'job_version', tostring(job.version),
             'job_version_id', job.version_id, 'created_by', who or 'scheduler', 'created_at', now,
             '_shard', shard, '_retention', retention)
  if job.project_id then redis.call('HSET', key, 'project_id', job.project_id) end
  redis.call('ZADD', K_RUNS, now, id)
  redis.call('ZADD', k_job_runs(step.job_id), now, id)
  redis.call('SADD', k_job_open(step.job_id), id)
  redis.call('ZADD', k_ready(shard), now, run_member(id))
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
-- has already taken it out of the active sets and the running zset (a
-- running run is in no ready, delayed or waiting queue: starting takes it
-- out of them; the waiting and prerequisite queues are still cleared, as
-- a run left there would be brought back to life). run.workflow_step_run_id
-- false: known to have none.
-- Returns the members to start now (a list, maybe empty).
local function run_ended(run_id, run, now, freed)
  local job, shard = run.job_id, tonumber(run._shard)
  local member = run_member(run_id)
  if run._retention then redis.call('PEXPIRE', k_run(run_id), run._retention) end
  redis.call('SREM', k_job_open(job), run_id)
  if not freed then
    redis.call('SREM', k_job_active(job), run_id)
    if run.concurrency_key then redis.call('SREM', k_job_active(job) .. ':' .. run.concurrency_key, run_id) end
    redis.call('ZREM', k_ready(shard), member)
    redis.call('ZREM', k_delayed(shard), member)
    redis.call('ZREM', k_running(shard), member)
  end
  redis.call('ZREM', k_job_waiting(job), run_id)
  redis.call('ZREM', k_job_depwait(job), run_id)
  local out = {}
  local next = redis.call('ZRANGE', k_job_waiting(job), 0, 0)[1]
  if next then
    redis.call('ZREM', k_job_waiting(job), next)
    redis.call('HSET', k_run(next), 'status', 'pending')
    redis.call('ZADD', k_ready(shard), 0, run_member(next))
    out[#out + 1] = run_member(next)
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
-- the run was just made and put in no queue yet.
local function start_attempt(run_id, run, job_json, job, instance, now, lease, fresh)
  local key = k_run(run_id)
  local shard, member = tonumber(run._shard), run_member(run_id)
  if not job_json then
    redis.call('HSET', key, 'status', 'failed', 'error', 'the job was deleted', 'finished_at', now)
    local out = {'ended'}
    for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
    return out
  end
  if run.expires_at and now > tonumber(run.expires_at) then
    redis.call('HSET', key, 'status', 'expired', 'finished_at', now,
               'error', 'not started before expires_at (run_ttl_secs)')
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
  job = job or cjson.decode(job_json)
  local function set(v) return v ~= nil and v ~= cjson.null end
  local ckey = run.concurrency_key
  local function unqueue()
    if not fresh then
      redis.call('ZREM', k_ready(shard), member)
      redis.call('ZREM', k_delayed(shard), member)
    end
  end
  local function wait()
    redis.call('HSET', key, 'status', 'waiting')
    unqueue()
    local prio = tonumber(run.priority or '0')
    redis.call('ZADD', k_job_waiting(run.job_id), tonumber(run.created_at) - prio * 60000, run_id)
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
    redis.call('ZADD', k_delayed(shard), free_at, member)
    return {'delayed', free_at}
  end
  local attempt = tonumber(run.attempt or '0') + 1
  if run.started_at then
    redis.call('HSET', key, 'status', 'running', 'attempt', attempt, '_instance', instance, '_phase', 'http',
               '_attempt_started', now)
  else
    redis.call('HSET', key, 'status', 'running', 'attempt', attempt, '_instance', instance, '_phase', 'http',
               '_attempt_started', now, 'started_at', now)
  end
  unqueue()
  redis.call('ZADD', k_running(shard), now + lease, member)
  redis.call('SADD', k_job_active(run.job_id), run_id)
  if ckey then redis.call('SADD', k_job_active(run.job_id) .. ':' .. ckey, run_id) end
  for _, w in ipairs(windows) do
    redis.call('ZADD', w[1], now, run_id .. ':' .. attempt)
    redis.call('PEXPIRE', w[1], w[3] + 1000)
  end
  -- the secret in clear is kept apart; the job shows it (masked) when it has one
  local secret = false
  if set(job.webhook_secret) then secret = redis.call('HGET', K_JOB_SECRETS, run.job_id) or false end
  return {'started', attempt, with_id(run.job_id, job_json), secret}
end
