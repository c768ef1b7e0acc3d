-- run_cancel: cancel a run that has not ended. A running one is marked
-- cancelled at once; its instance's late outcome is then fenced off, and a
-- worker's next progress or heartbeat answers cancel_requested.
-- ARGV: run id, now (ms). Returns {"ok", previous status, the run's
-- HGETALL, members to start...} | {"ended", status} | {"gone"}
want_tenant(); want_id(1, 'run id'); want_time(2)
local run_id, now = ARGV[1], tonumber(ARGV[2])
local key = k_run(run_id)
local run = hgetall_table(key)
if not run.status then return {'gone'} end
if not OPEN_STATES[run.status] then return {'ended', run.status} end
redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now, '_cancel', '1')
local out = {'ok', run.status, run_all(key)}
for _, m in ipairs(run_ended(run_id, run)) do out[#out + 1] = m end
return out
