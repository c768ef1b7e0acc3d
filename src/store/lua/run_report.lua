-- run_report: what a worker tells about the run it took over (after a 202):
-- progress, heartbeat, complete, fail. The run token was checked already.
-- ARGV: run id, kind (progress | heartbeat | complete | fail | inspect), now
--       (ms), data (progress JSON / result JSON / error), the attempt the
--       worker's run token is for (0: jobwheel's own inspect), and "b" when
--       long values may be stored apart (see the prelude's run_write;
--       optional). A worker's run stays alive for its timeout (timeout_secs)
--       after each report.
-- Returns {"ok", cancel requested "1"/"0"} for progress and heartbeat,
--   {"ok", members to start...} for complete,
--   {"fail", attempt, job JSON, the run's fields packed (pack_fields)} for fail (the caller decides
--   whether to retry, through run_finish),
--   {"cancelled"} (the run was cancelled: progress/heartbeat answer so),
--   {"ended", status} | {"gone"} | {"stale", attempt} (the token is for
--   another attempt than the run's: the run has moved on)
want_tenant(); want_id(1, 'run id'); want_time(3)
local run_id, kind, now, data = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local token_attempt = tonumber(ARGV[5]) or -1
local key = k_run(run_id)
local run = hgetall_table(key)
if not run.status then return {'gone'} end
if token_attempt ~= 0 and tonumber(run.attempt or '0') ~= token_attempt then return {'stale', run.attempt or '0'} end
if run.status == 'cancelled' and (kind == 'progress' or kind == 'heartbeat') then return {'cancelled'} end
if run.status ~= 'running' then return {'ended', run.status} end
local shard, member = tonumber(run._shard), run_member(run_id)
if kind == 'progress' or kind == 'heartbeat' then
  if kind == 'progress' then run._big = run_write(key, {'progress', data}, run._big, ARGV[6] == 'b') end
  redis.call('HSET', key, 'heartbeat_at', now)
  if run._phase == 'worker' then
    local job = job_raw(run.job_id)
    local secs = tonumber(run.timeout_secs_override or '0')
    if secs == 0 and job then secs = job_decode(job).timeout_secs or 60 end
    if secs == 0 then secs = 60 end
    redis.call('ZADD', k_running(shard), now + secs * 1000, member)
  end
  return {'ok', run._cancel == '1' and '1' or '0'}
end
if kind == 'complete' then
  local entry = '{"attempt":' .. run.attempt .. ',"outcome":"completed","reported_by":"worker","at":' .. ARGV[3] .. '}'
  local set = {'status', 'completed', 'finished_at', ARGV[3], 'attempts', attempts_with(run.attempts, entry)}
  if data ~= '' then set[#set + 1], set[#set + 2] = 'result', data end
  run._big = run_write(key, set, run._big, ARGV[6] == 'b')
  local out = {'ok'}
  for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
  return out
end
return {'fail', run.attempt, job_json(run.job_id), pack_fields(run_all(key))}
