-- fire_claim: fire the due firings of jobs of one tenant whose schedules
-- are in one shard, each exactly once across instances.
-- ARGV: the shard, now (ms), history retention (ms), the instance that will
--       run what starts here ("" none), its lease (ms), how many runs it
--       has room to start, the number of jobs, the instance's default
--       runs_per_minute, run_history and inflight quotas (see the
--       prelude's Quotas), then per job:
--         job id, its member in the due set, the due score the caller saw,
--         the job version its schedule came from, the job's stored JSON as
--         the caller knows it, flags ("l": a run of it starts only through
--         its limits; "s": it has a webhook secret), the next firing ("-"
--         none, else ms), when a run made now expires ("" never), the
--         number of field/value pairs every run of it takes from the job,
--         the pairs, the number of runs, then per run: run id, nominal
--         time (ms), why it is skipped ("": it runs).
-- A job's firing is the caller's only if its due score is still the one
-- it saw; then, in one step: runs are made for nominal times not yet in the
-- fire ledger, the ledger moves on, and the next firing is written. A run
-- made pending starts here, as run_start would start it, while the
-- instance has room (as run_create does); else it is queued ready. When the
-- stored job is the caller's copy, byte for byte, it is not decoded: the
-- caller's flags tell how its runs start. Quotas: a run over the tenant's
-- runs_per_minute is made skipped; room for the runs in the history is made
-- as for a trigger (the oldest ended runs go), but a firing is not refused
-- for it; a run over the inflight quota waits as start_attempt holds it.
-- Returns per job {"ok", then per run made: its id, what starting it gave
--         (run_start's answer without the fields; its job JSON false when
--         it is the caller's copy) or 0} | {"moved", current score or
--         false} | {"gone"} | {"inactive"} | {"stale", job JSON}
want_tenant(); want_shard(1); want_time(2); want_int(3, 0, RETENTION_MAX, 'retention, ms')
want_instance(4, true); want_int(5, 0, RUN_LEASE_MAX, 'lease, ms'); want_int(6, 0, ROOM_MAX, 'room')
want_int(8, 0, QUOTA_MAX, 'runs_per_minute quota'); want_int(9, 0, QUOTA_MAX, 'run_history quota')
want_int(10, 0, QUOTA_MAX, 'inflight quota')
do -- each job's arguments and its runs' fill the call exactly; ids name keys
  local i = 11
  for _ = 1, want_int(7, 1, 1000, 'number of jobs') do
    local id = want_id(i, 'job id')
    if ARGV[i + 1] ~= due_member(id) then bad_arg('ARGV[' .. (i + 1) .. '] must be the due member of job ' .. id) end
    if ARGV[i + 6] ~= '-' then want_time(i + 6, 'next firing, ms') end
    local np = want_int(i + 8, 0, 64, 'number of field/value pairs')
    local r, nr = i + 10 + 2 * np, want_int(i + 9 + 2 * np, 0, 100000, 'number of runs')
    for _ = 1, nr do
      want_id(r, 'run id'); want_time(r + 1, 'nominal time, ms')
      r = r + 3
    end
    i = r
  end
  if i ~= #ARGV + 1 then bad_arg('the jobs and runs counted do not fill ARGV') end
end
local shard, now, retention = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local instance, lease, room = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local now_n = tonumber(now)
local due, running = k_due(shard), k_running(shard)
-- per job: where its arguments start, its id, due member and packed id
local at, ids, members, packed = {}, {}, {}, {}
Q.defaults.runs_per_minute, Q.defaults.run_history, Q.defaults.inflight = ARGV[8], ARGV[9], ARGV[10]
local i, nruns = 11, 0
for j = 1, tonumber(ARGV[7]) do
  at[j], ids[j], members[j], packed[j] = i, ARGV[i], ARGV[i + 1], string.sub(ARGV[i + 1], 17)
  local np = tonumber(ARGV[i + 8])
  local nr = tonumber(ARGV[i + 9 + 2 * np])
  nruns = nruns + nr
  i = i + 10 + 2 * np + 3 * nr
end
local scores = redis.call('ZMSCORE', due, unpack(members))
local stored = redis.call('HMGET', K_JOBS, unpack(packed))
local ledger = redis.call('HMGET', K_FIRED, unpack(ids))

local unscheduled, rescheduled, fired, made = {}, {}, {}, {}
local started_at = {} -- running members and their lease ends
local shard_text = ARGV[1]
-- the runs_per_minute quota: how many more runs it lets through (nil: not
-- asked yet; false: no limit), and how many were made
local rpm_left, rpm_made = nil, 0
local function rpm_allows()
  if rpm_left == nil then
    local limit = Q.limit('runs_per_minute')
    rpm_left = limit > 0 and limit - tonumber(redis.call('GET', Q.rpm_key(now_n)) or '0')
  end
  if rpm_left == false then return true end
  if rpm_left <= 0 then return false end
  rpm_left, rpm_made = rpm_left - 1, rpm_made + 1
  return true
end

-- Fire the job whose arguments start at ARGV[a], stored as json (decoded
-- as job when it is not the caller's copy), whose ledger is at `last`: its
-- runs, each made once.
local function fire(a, json, job, last)
  local job_id, flags, expires, np = ARGV[a], ARGV[a + 5], ARGV[a + 7], tonumber(ARGV[a + 8])
  local base = T .. ':job:' .. job_id
  -- the fields every run takes from the job
  local from_job = {}
  for p = a + 9, a + 8 + 2 * np do from_job[#from_job + 1] = ARGV[p] end
  if expires ~= '' then from_job[#from_job + 1], from_job[#from_job + 2] = 'expires_at', expires end
  local plain = not job and not string.find(flags, 'l', 1, true)
  local secret, deps_ok
  local open, active, job_runs = {}, {}, {}
  local out = {'ok'}
  local last_text
  local r = a + 10 + 2 * np
  for _ = 1, tonumber(ARGV[r - 1]) do
    local id, nominal, why = ARGV[r], ARGV[r + 1], ARGV[r + 2]
    r = r + 3
    if tonumber(nominal) > last then
      if why == '' and not rpm_allows() then
        why = "over the tenant's runs_per_minute quota (" .. Q.limit('runs_per_minute') .. ')'
      end
      last, last_text = tonumber(nominal), nominal
      local key = T .. ':run:' .. id
      made[#made + 1], made[#made + 2] = now, id
      job_runs[#job_runs + 1], job_runs[#job_runs + 2] = now, id
      local started = 0
      local can = why == '' and room > 0 and instance ~= '' and not Q.busy()
      if can and plain and deps_ok == nil then
        deps_ok = redis.call('EXISTS', base .. ':deps') == 0 or deps_satisfied(job_id)
      end
      if can and plain and deps_ok then
        -- it starts now, as start_attempt would start it: no limit to ask
        room = room - 1
        redis.call('HSET', key, 'id', id, 'job_id', job_id, 'triggered_by', 'schedule', 'scheduled_at', nominal,
                   'created_by', 'scheduler', 'created_at', now, '_retention', retention, 'status', 'running',
                   'attempt', '1', '_shard', shard_text, '_instance', instance, '_phase', 'http',
                   '_attempt_started', now, 'started_at', now, unpack(from_job))
        local member = TENANT .. ':' .. id
        started_at[#started_at + 1], started_at[#started_at + 2] = now_n + lease, member
        open[#open + 1], active[#active + 1] = id, id
        redis.call('SADD', k_inflight(), id) -- at once: the next run's Q.busy counts it
        if secret == nil then
          secret = string.find(flags, 's', 1, true) and redis.call('HGET', K_JOB_SECRETS, job_id) or false
        end
        started = {'started', 1, false, secret}
      else
        local h = {'id', id, 'job_id', job_id, 'triggered_by', 'schedule', 'scheduled_at', nominal,
                   'created_by', 'scheduler', 'created_at', now, '_retention', retention}
        if why ~= '' then
          h[#h + 1], h[#h + 2], h[#h + 3], h[#h + 4] = 'status', 'skipped', 'error', why
          h[#h + 1], h[#h + 2] = 'finished_at', now
          for p = 1, 2 * np do h[#h + 1] = from_job[p] end -- no expiry: it ended
          redis.call('HSET', key, unpack(h))
          redis.call('PEXPIRE', key, retention)
        else
          h[#h + 1], h[#h + 2], h[#h + 3], h[#h + 4] = 'status', 'pending', '_shard', shard_text
          for p = 1, #from_job do h[#h + 1] = from_job[p] end
          redis.call('HSET', key, unpack(h))
          redis.call('SADD', base .. ':open', id)
          if room > 0 and instance ~= '' then
            room = room - 1
            local fields = {}
            for f = 1, #h, 2 do fields[h[f]] = h[f + 1] end
            job = job or job_decode(json)
            started = start_attempt(id, fields, json, job, instance, now_n, lease, true)
          else
            ready_add(shard, now, run_member(id))
          end
        end
      end
      out[#out + 1], out[#out + 2] = id, started
    end
  end
  if last_text then
    fired[#fired + 1], fired[#fired + 2] = job_id, last_text
    call_chunked('ZADD', base .. ':runs', job_runs)
    if #open > 0 then call_chunked('SADD', base .. ':open', open) end
    if #active > 0 then call_chunked('SADD', base .. ':active', active) end
    -- history retention, as run_create keeps it: on one firing in 64
    if now_n % 64 == 0 then
      redis.call('ZREMRANGEBYSCORE', base .. ':runs', '-inf', now_n - tonumber(retention))
    end
  end
  return out
end

Q.room(nruns) -- (a firing is made even when the history has no room)
local out = {}
for j = 1, #at do
  local a, score, json = at[j], scores[j], stored[j]
  if not score or tonumber(score) ~= tonumber(ARGV[a + 2]) then
    out[j] = {'moved', score or false}
  elseif not json then
    unscheduled[#unscheduled + 1] = members[j]
    out[j] = {'gone'}
  else
    local job = json ~= ARGV[a + 4] and job_decode(json)
    if job and (job.enabled == false or job.paused == true or
                (job.deleted_at ~= nil and job.deleted_at ~= cjson.null)) then
      unscheduled[#unscheduled + 1] = members[j]
      out[j] = {'inactive'}
    elseif job and job_version(job) ~= ARGV[a + 3] then
      out[j] = {'stale', with_id(ids[j], json)}
    else
      out[j] = fire(a, json, job or nil, tonumber(ledger[j] or '-1'))
      local nxt = ARGV[a + 6]
      if nxt == '-' then
        unscheduled[#unscheduled + 1] = members[j]
      else
        rescheduled[#rescheduled + 1], rescheduled[#rescheduled + 2] = nxt, members[j]
      end
    end
  end
end
if #fired > 0 then
  redis.call('HSET', K_FIRED, unpack(fired))
  call_chunked('ZADD', K_RUNS, made)
  if now_n % 64 == 0 then redis.call('ZREMRANGEBYSCORE', K_RUNS, '-inf', now_n - tonumber(retention)) end
end
if #started_at > 0 then call_chunked('ZADD', running, started_at) end
if rpm_made > 0 then
  redis.call('INCRBY', Q.rpm_key(now_n), rpm_made)
  redis.call('PEXPIRE', Q.rpm_key(now_n), 120000)
end
if #unscheduled > 0 then redis.call('ZREM', due, unpack(unscheduled)) end
if #rescheduled > 0 then redis.call('ZADD', due, unpack(rescheduled)) end
return out
