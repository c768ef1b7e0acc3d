-- fire_claim: fire one job's due firing(s), exactly once across instances.
-- ARGV: job id, the due score the caller saw, the job version its schedule
--       came from, the next firing ("-" none, else ms), now (ms),
--       history retention (ms), the instance that will run what starts
--       here ("" none), its lease (ms), how many runs it has room to start,
--       the number of runs, then per run: run id, nominal time (ms), the
--       number of field/value pairs, the pairs.
-- The firing is the caller's only if the job's due score is still the one
-- it saw; then, in one step: runs are made for nominal times not yet in the
-- fire ledger, the ledger moves on, and the next firing is written. A run
-- made pending starts here, as run_start would start it, while the
-- instance has room (as run_create does); else it is queued ready.
-- Returns {"ok", then per run made: its id, the fields starting it reads
--         (_shard, scheduled_at, created_at: as HGETALL pairs; none for a
--         skipped run), what starting it gave (run_start's answer without
--         the fields) or 0} | {"moved", current score or false} |
--         {"gone"} | {"inactive"} | {"stale", job JSON}
local job_id, seen, version, nxt, now, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local instance, lease, room = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local member, due = due_member(job_id), due_key(job_id)
local score = redis.call('ZSCORE', due, member)
if not score or tonumber(score) ~= tonumber(seen) then
  return {'moved', score or false}
end
local json = job_raw(job_id)
if not json then
  redis.call('ZREM', due, member)
  return {'gone'}
end
local job = job_decode(json)
if job.enabled == false or job.paused == true or
   (job.deleted_at ~= nil and job.deleted_at ~= cjson.null) then
  redis.call('ZREM', due, member)
  return {'inactive'}
end
if job_version(job) ~= version then
  return {'stale', with_id(job_id, json)}
end
local last = tonumber(redis.call('HGET', K_FIRED, job_id) or '-1')
local made, last_text = {'ok'}, nil
local i, n = 11, tonumber(ARGV[10])
for _ = 1, n do
  local id, nominal, nf = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  if nominal > last then
    local key = k_run(id)
    local flat, fields = {}, {}
    for f = i, i + 2 * nf - 1, 2 do
      flat[#flat + 1], flat[#flat + 2] = ARGV[f], ARGV[f + 1]
      fields[ARGV[f]] = ARGV[f + 1]
    end
    local pending = fields.status == 'pending'
    flat[#flat + 1], flat[#flat + 2] = '_retention', ARGV[6]
    local shard
    if pending then
      shard = job_shard(job_id)
      fields._shard = tostring(shard)
      flat[#flat + 1], flat[#flat + 2] = '_shard', fields._shard
    end
    redis.call('HSET', key, unpack(flat))
    if not pending then redis.call('PEXPIRE', key, retention) end
    redis.call('ZADD', K_RUNS, now, id)
    redis.call('ZADD', k_job_runs(job_id), now, id)
    local started, told = 0, {}
    if pending then
      told = {'_shard', fields._shard, 'scheduled_at', fields.scheduled_at, 'created_at', fields.created_at}
      -- ready to start: here if the instance has room, else the execution
      -- engine takes it from the ready queue
      redis.call('SADD', k_job_open(job_id), id)
      if room > 0 and instance ~= '' then
        room = room - 1
        started = start_attempt(id, fields, json, job, instance, tonumber(now), lease, true)
      else
        redis.call('ZADD', k_ready(shard), now, run_member(id))
      end
    end
    last, last_text = nominal, ARGV[i - 2]
    made[#made + 1], made[#made + 2], made[#made + 3] = id, told, started
  end
  i = i + 2 * nf
end
if #made > 1 then
  redis.call('HSET', K_FIRED, job_id, last_text)
  -- history retention, as run_create keeps it: on one firing in 64
  if tonumber(now) % 64 == 0 then
    redis.call('ZREMRANGEBYSCORE', K_RUNS, '-inf', now - retention)
    redis.call('ZREMRANGEBYSCORE', k_job_runs(job_id), '-inf', now - retention)
  end
end
if nxt == '-' then
  redis.call('ZREM', due, member)
else
  redis.call('ZADD', due, nxt, member)
end
return made
