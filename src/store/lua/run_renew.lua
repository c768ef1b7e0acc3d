-- run_renew: an instance renews the leases of the attempts it is running,
-- one or several runs in one step. Fenced by attempt: a lease is renewed
-- only while the run is still running that very attempt, on this instance,
-- and has not been handed to a worker — so an instance that was stopped
-- (SIGSTOP, a long pause) and resumes cannot shorten the deadline of the
-- attempt that replaced its own. A lease that lapsed while nobody took the
-- run over is renewed (the attempt is still this instance's; whoever finds
-- it lapsed first wins, as run_finish checks the lease).
-- ARGV: instance id, now (ms), the lease's end (ms), then pairs of run id,
--       attempt.
-- Returns per run: {"ok"} | {"superseded", status, attempt} (the run has
--   moved on: another attempt, another instance, a worker, or it ended)
--   | {"gone"}
want_tenant(); want_instance(1); want_time(2); want_int(3, 0, TIME_MAX, "lease's end, ms")
want_groups(4, 2, 'run id, attempt')
for i = 4, #ARGV, 2 do want_id(i, 'run id'); want_int(i + 1, 1, 1e9, 'attempt') end
local me, now, lease_end = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if lease_end > now + RUN_LEASE_MAX then bad_arg("ARGV[3] (lease's end) is further off than the longest lease") end
local out, by_shard = {}, {}
for i = 4, #ARGV, 2 do
  local run_id, attempt = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', k_run(run_id), 'status', 'attempt', '_instance', '_shard', '_phase')
  if not f[1] then
    out[#out + 1] = {'gone'}
  elseif f[1] ~= 'running' or f[2] ~= attempt or f[3] ~= me or f[5] == 'worker' then
    out[#out + 1] = {'superseded', f[1], f[2] or '0'}
  else
    local shard = tonumber(f[4])
    local members = by_shard[shard]
    if not members then
      members = {'XX', 'GT'} -- never sooner: an attempt started ahead of its time has its lease from then
      by_shard[shard] = members
    end
    members[#members + 1], members[#members + 2] = lease_end, run_member(run_id)
    out[#out + 1] = {'ok'}
  end
end
for shard, members in pairs(by_shard) do redis.call('ZADD', k_running(shard), unpack(members)) end
return out
