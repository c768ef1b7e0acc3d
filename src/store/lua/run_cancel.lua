-- run_cancel: cancel a run that has not ended. A running one is marked
-- cancelled at once; its instance's late outcome is then fenced off, and a
-- worker's next progress or heartbeat answers cancel_requested.
-- ARGV: run id, now (ms). Returns {"ok", previous status, promoted member
-- or false, the run's HGETALL} | {"ended", status} | {"gone"}
local run_id, now = ARGV[1], tonumber(ARGV[2])
local key = k_run(run_id)
local run = hgetall_table(key)
if not run.status then return {'gone'} end
if not OPEN_STATES[run.status] then return {'ended', run.status} end
redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now, '_cancel', '1')
local promoted = run_ended(run_id, run) or false
return {'ok', run.status, promoted, redis.call('HGETALL', key)}
