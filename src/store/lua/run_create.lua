-- run_create: trigger jobs — the triggers of one tenant that arrived in
-- one turn of the loop (group commit), each one run or a bulk of them, each
-- made whole or not at all, in one step.
-- ARGV: retention (ms), the instance that will run what starts here, its
-- lease (ms), the instance's default runs_per_minute, run_history and
-- inflight quotas (see the prelude's Quotas), then per trigger: job id or
-- name, now (ms), flags (letters: x = exclusive, refuse when a run of the
-- job has not ended — the "already running" 409; p = the job is named
-- "<project_id>\n<slug>"; n = refuse system jobs; y = system jobs only;
-- b = its runs may keep long values apart: see the prelude's run_write),
-- how many runs the instance has room to start, the number of runs, then
-- per run: run id, idempotency key or "", dedup SHA-256 or "", start time
-- (ms; later than now = delayed), the number of field/value pairs, the
-- pairs.
-- Job-derived fields (job_id, project_id, job_version(_id), tags and
-- metadata defaults, expires_at) are filled here from the job itself.
-- A new run that may start now, while the instance has room, starts here
-- as run_start would start it (limits, lease), saving a round trip and a
-- script.
-- Returns one answer per trigger, in order: {"nojob"} | {"system"} (n, and
-- it is one) | {"conflict", existing run id} | {"quota", ...} (Q.over: the
-- new runs would pass a quota) | {"ok", then per run: "new"|"hit", its
-- shard, fields (packed: pack_fields), and what starting it gave (run_start's
-- answer without the run's fields) or 0 when it was not tried}. The fields
-- of a "hit" are all its own; those of a "new" run are what it took from its
-- job: job_id, job_version, _shard, and when they apply job_version_id,
-- project_id, metadata (the job's defaults merged in), tags, expires_at.
-- The rest of a new run is what the caller sent, under id, created_at
-- (now), status (delayed when its start is later than now, else pending),
-- scheduled_at (its start, when delayed) and _retention, set here. A
-- trigger refused changes nothing; the others go on.
want_tenant(); want_int(1, 0, RETENTION_MAX, 'retention, ms'); want_instance(2, true)
want_int(3, 0, RUN_LEASE_MAX, 'lease, ms')
want_int(4, 0, QUOTA_MAX, 'runs_per_minute quota'); want_int(5, 0, QUOTA_MAX, 'run_history quota')
want_int(6, 0, QUOTA_MAX, 'inflight quota')
local triggers = {} -- where each trigger's arguments begin
do -- each trigger's and each run's arguments fill the call exactly; what names a key is short
  local i = 7
  while i <= #ARGV do
    if #ARGV[i] > 1000 then bad_arg('ARGV[' .. i .. '] (job) is longer than 1000 bytes') end
    want_time(i + 1)
    if string.find(ARGV[i + 2] or '', '[^xpnyb]') then bad_arg('ARGV[' .. (i + 2) .. '] (flags) is not of xpnyb') end
    want_int(i + 3, 0, ROOM_MAX, 'room')
    local nruns = want_int(i + 4, 1, (#ARGV - i - 4) / 5, 'number of runs')
    triggers[#triggers + 1] = i
    i = i + 5
    for _ = 1, nruns do
      want_id(i, 'run id')
      local nf = want_int(i + 4, 0, (#ARGV - i - 4) / 2, 'number of field/value pairs')
      if #ARGV[i + 1] > 200 then bad_arg('ARGV[' .. (i + 1) .. '] (idempotency key) is longer than 200 bytes') end
      if ARGV[i + 2] ~= '' and (#ARGV[i + 2] ~= 64 or string.find(ARGV[i + 2], '%X')) then
        bad_arg('ARGV[' .. (i + 2) .. '] (dedup key) must be a hex SHA-256')
      end
      want_time(i + 3, 'start, ms')
      local at = i + 5
      i = at + 2 * nf
      for f = at, i - 1, 2 do
        if ARGV[f] == 'concurrency_key' and #ARGV[f + 1] > 200 then bad_arg('a concurrency_key is longer than 200 bytes') end
        if ARGV[f] == 'priority' and not tonumber(ARGV[f + 1]) then bad_arg('a priority must be a number') end
      end
    end
  end
end
local retention, retention_text, instance, lease = tonumber(ARGV[1]), ARGV[1], ARGV[2], tonumber(ARGV[3])
-- jobs decoded in this call, by their stored JSON: the triggers of one call
-- are mostly of one job, and decoding it was much of what a trigger cost
-- (nothing here changes a decoded job)
local decoded = {}
-- and the jobs named in this call, by what names them: {id, stored JSON},
-- and by their ids: {shard, version} as text
local named, texts_of = {}, {}
Q.defaults.runs_per_minute, Q.defaults.run_history, Q.defaults.inflight = ARGV[4], ARGV[5], ARGV[6]

-- One trigger, its arguments from g (job, now, flags, room, number of
-- runs) to last (its runs): its answer.
local function trigger(g, last)
  local now, now_text, flags = tonumber(ARGV[g + 1]), ARGV[g + 1], ARGV[g + 2]
  local by_slug = string.find(flags, 'p', 1, true) ~= nil
  local ref = (by_slug and 'p' or '') .. ARGV[g]
  local job_id, job_json
  if named[ref] then
    job_id, job_json = named[ref][1], named[ref][2]
  else
    if by_slug then
      job_id = slug_owner(ARGV[g])
    else -- resolve_job's rule, reading the job as it goes
      if is_uuid(ARGV[g]) then
        job_id = string.lower(ARGV[g])
        job_json = job_raw(job_id)
      end
      if not job_json then job_id = idx_get(ARGV[g]) end
    end
    if not job_id then return {'nojob'} end
    job_json = job_json or job_raw(job_id)
    if not job_json then return {'nojob'} end
    named[ref] = {job_id, job_json}
  end
  local job = decoded[job_json]
  if not job then
    job = job_decode(job_json)
    decoded[job_json] = job
  end
  if job.deleted_at ~= nil and job.deleted_at ~= cjson.null then return {'nojob'} end
  if string.find(flags, 'n', 1, true) and job.system == true then return {'system'} end
  if string.find(flags, 'y', 1, true) and job.system ~= true then return {'nojob'} end
  local exclusive = string.find(flags, 'x', 1, true) ~= nil
  local apart_ok = string.find(flags, 'b', 1, true) ~= nil
  if exclusive then
    local open = redis.call('SRANDMEMBER', k_job_open(job_id))
    if open then return {'conflict', open} end
  end
  local room = tonumber(ARGV[g + 3])
  local first = g + 5 -- its runs' arguments
  local shard = job_shard(job_id)
  -- numbers as text (as times are: a number's text costs Lua a sprintf), once a job
  local texts = texts_of[job_id]
  if not texts then
    texts = {tostring(shard), job_version(job)}
    texts_of[job_id] = texts
  end
  local shard_text, version_text = texts[1], texts[2]
  -- an existing run this trigger names (idempotency key, payload dedup), or nil
  local function existing_run(idem, dedup)
    local existing = nil
    if idem ~= '' then existing = redis.call('GET', T .. ':idem:' .. idem) end
    if not existing and dedup ~= '' and job.dedup_window_secs ~= nil and job.dedup_window_secs ~= cjson.null then
      existing = redis.call('GET', T .. ':job:' .. job_id .. ':dedup:' .. dedup)
    end
    if existing and redis.call('EXISTS', k_run(existing)) == 1 then return existing end
    return nil
  end
  -- the runs that are new must fit the quotas (counted before any is made:
  -- two items of one bulk with one key count twice, which errs on the safe side)
  if Q.limit('runs_per_minute') > 0 or Q.limit('run_history') > 0 then
    local fresh, a = 0, first
    while a < last do
      if (ARGV[a + 1] == '' and ARGV[a + 2] == '') or not existing_run(ARGV[a + 1], ARGV[a + 2]) then
        fresh = fresh + 1
      end
      a = a + 5 + 2 * tonumber(ARGV[a + 4])
    end
    local over = Q.make(now, fresh)
    if over then return over end
  end
  local out = {'ok'}
  local i = first
  while i < last do
    local id, idem, dedup, start, nf = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    local start_text = ARGV[i + 3]
    local pairs_at = i + 5
    i = pairs_at + 2 * nf
    local existing = existing_run(idem, dedup)
    if existing then
      out[#out + 1] = 'hit'
      out[#out + 1] = shard
      out[#out + 1] = pack_fields(run_all(k_run(existing)))
      out[#out + 1] = 0
    else
      local key = k_run(id)
      local delayed = start > now
      -- what the script sets (made at once: a table grown key by key is
      -- rehashed as it grows), then what the trigger says, under it
      local fields = {id = id, job_id = job_id, job_version = version_text, created_at = now_text,
                      _shard = shard_text, _retention = retention_text, status = delayed and 'delayed' or 'pending',
                      scheduled_at = delayed and start_text or nil}
      for f = pairs_at, pairs_at + 2 * nf - 1, 2 do
        if fields[ARGV[f]] == nil then fields[ARGV[f]] = ARGV[f + 1] end
      end
      -- what the run takes from its job (the answer's fields: the caller
      -- knows the rest, and packing it all was an eighth of a trigger's cost)
      local derived = {'job_id', job_id, 'job_version', version_text, '_shard', shard_text}
      local function derive(name, value)
        fields[name] = value
        derived[#derived + 1] = name
        derived[#derived + 1] = value
      end
      -- the job's defaults under what the trigger says
      if job.default_run_metadata ~= nil and job.default_run_metadata ~= cjson.null then
        local md = fields.metadata and cjson.decode(fields.metadata) or {}
        for k, v in pairs(job.default_run_metadata) do
          if md[k] == nil then md[k] = v end
        end
        if next(md) ~= nil then derive('metadata', cjson.encode(md)) end
      end
      if not fields.tags and job.tags ~= nil and job.tags ~= cjson.null then derive('tags', cjson.encode(job.tags)) end
      if job.project_id ~= nil and job.project_id ~= cjson.null and not fields.project_id then
        derive('project_id', job.project_id)
      end
      if job.version_id and job.version_id ~= job_id then derive('job_version_id', job.version_id) end -- (run.c: else the job's id)
      if job.run_ttl_secs ~= nil and job.run_ttl_secs ~= cjson.null then
        derive('expires_at', tostring(math.max(now, start) + job.run_ttl_secs * 1000))
      end
      -- a long payload (or params: what of IS_BIG a trigger sets) apart, as
      -- run_write would keep it (written here at less cost: the run is new)
      local pl, pa, big = fields.payload, fields.params, nil
      if apart_ok then
        if pl and #pl > LONG then
          redis.call('SET', key .. ':payload', pl)
          fields.payload, big = nil, 'payload'
        end
        if pa and #pa > LONG then
          redis.call('SET', key .. ':params', pa)
          fields.params, big = nil, big and big .. ' params' or 'params'
        end
        fields._big = big
      end
      local flat = {}
      for k, v in pairs(fields) do flat[#flat + 1] = k; flat[#flat + 1] = v end
      redis.call('HSET', key, unpack(flat))
      if big then fields.payload, fields.params = pl, pa end -- (as read back)
      redis.call('ZADD', K_RUNS, now_text, id) -- (times as text, as above)
      redis.call('ZADD', k_job_runs(job_id), now_text, id)
      redis.call('SADD', k_job_open(job_id), id)
      local member = run_member(id)
      local start_now = not delayed and room > 0 and instance ~= ''
      if delayed then
        delayed_add(shard, start, member, start_text)
      elseif not start_now then
        ready_add(shard, fields.priority and now - tonumber(fields.priority) * 60000 or now_text, member)
      end
      if idem ~= '' then redis.call('SET', T .. ':idem:' .. idem, id, 'EX', 86400) end
      if dedup ~= '' and job.dedup_window_secs ~= nil and job.dedup_window_secs ~= cjson.null then
        redis.call('SET', T .. ':job:' .. job_id .. ':dedup:' .. dedup, id, 'EX', job.dedup_window_secs)
      end
      out[#out + 1] = 'new'
      out[#out + 1] = shard
      out[#out + 1] = pack_fields(derived)
      if start_now then
        room = room - 1
        out[#out + 1] = start_attempt(id, fields, job_json, job, instance, now, lease, true)
      else
        out[#out + 1] = 0
      end
    end
  end
  -- history retention: the indexes forget runs past it (their hashes expire);
  -- checked on one trigger in 64, which is plenty and keeps triggers cheap
  if now % 64 == 0 then
    redis.call('ZREMRANGEBYSCORE', K_RUNS, '-inf', now - retention)
    redis.call('ZREMRANGEBYSCORE', k_job_runs(job_id), '-inf', now - retention)
  end
  return out
end

local answers = {}
for n, g in ipairs(triggers) do answers[n] = trigger(g, triggers[n + 1] or #ARGV + 1) end
return answers
