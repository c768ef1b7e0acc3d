-- run_finish: the outcomes of attempts, from the instance that ran them
-- (or, for a lapsed lease, from whoever found it), one or several runs in
-- one step (an instance sends together what ended in one turn of its loop;
-- each run is its own transition, as if finished alone). Fenced: nothing
-- happens to a run unless it is still running that very attempt (and, when
-- an instance is given, by that instance; when its flags say lapsed, its
-- lease has run out).
-- ARGV, per run: the number of its arguments, then them: run id, attempt,
--       instance or "", flags (letters: 1 = its lease lapsed; b = long
--       values may be stored apart, see the prelude's run_write), now
--       (ms),
--       next status: completed | failed | timed_out | crashed | delayed
--       (retry at `due`) | worker (a worker took it over; its heartbeat is
--       due by `due`), due (ms or ""), attempt log entry (JSON object),
--       then field/value pairs to set (result, error, execution_trace, ...).
-- Returns per run: {"ok", members to start...} | {"delayed", shard, due,
--   members to start...} (a retry: due then) | {"fenced", status} | {"gone"}
-- Members leaving the running zsets, by shard: removed together at the end
-- (nothing in between reads them but a run's own lease, for its own member).
want_tenant()
do -- each run's arguments fill the call exactly, before any run is touched
  local i = 1
  while i <= #ARGV do
    local n = want_int(i, 8, #ARGV - i, "number of a run's arguments")
    if (n - 8) % 2 ~= 0 then bad_arg('ARGV[' .. i .. ']: the fields to set come in pairs') end
    want_id(i + 1, 'run id'); want_time(i + 5)
    if ARGV[i + 6] == 'delayed' or ARGV[i + 6] == 'worker' then want_time(i + 7, 'due, ms') end
    i = i + 1 + n
  end
end
local unrun = {}

-- The run whose arguments start at ARGV[a] and end at ARGV[z].
local function finish(a, z)
  local run_id, attempt, instance = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local lapsed, apart = string.find(ARGV[a + 3], '1', 1, true) ~= nil, string.find(ARGV[a + 3], 'b', 1, true) ~= nil
  local now_s, status, due, entry = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
  local now = tonumber(now_s)
  local key = k_run(run_id)
  local f = redis.call('HMGET', key, 'status', 'attempt', '_instance', '_shard', 'job_id', 'concurrency_key',
                      '_retention', 'attempts', 'next_retry_at', 'workflow_step_run_id', '_big')
  if not f[1] then return {'gone'} end
  if f[1] ~= 'running' or f[2] ~= attempt or (instance ~= '' and f[3] ~= instance) then
    return {'fenced', f[1]}
  end
  local shard, member, job_id, ckey = tonumber(f[4]), run_member(run_id), f[5], f[6] or nil
  if lapsed then
    local lease = redis.call('ZSCORE', k_running(shard), member)
    if lease and tonumber(lease) > now then return {'fenced', 'running'} end
  end
  -- one HSET: the fields given, the attempt appended to the run's log, then
  -- the new state (a later pair wins over an earlier one of the same field)
  local set = {}
  for i = a + 8, z do set[#set + 1] = ARGV[i] end
  if entry ~= '' then
    set[#set + 1], set[#set + 2] = 'attempts', attempts_with(big_get(key, f[11], 'attempts', f[8]), entry)
  end
  if status == 'worker' then
    set[#set + 1], set[#set + 2], set[#set + 3], set[#set + 4] = '_phase', 'worker', 'heartbeat_at', now_s
    run_write(key, set, f[11] or nil, apart)
    redis.call('ZADD', k_running(shard), tonumber(due), member)
    local out = {'ok'}
    Q.done(run_id, out) -- the call is over; the worker's time is not in flight
    return out
  end
  -- the attempt is over: its concurrency slot is free
  redis.call('SREM', k_job_active(job_id), run_id)
  if ckey then redis.call('SREM', k_job_active(job_id) .. ':' .. ckey, run_id) end
  local gone = unrun[shard]
  if not gone then
    gone = {}
    unrun[shard] = gone
  end
  gone[#gone + 1] = member
  if status == 'delayed' then
    set[#set + 1], set[#set + 2], set[#set + 3], set[#set + 4] = 'status', 'delayed', 'next_retry_at', due
    run_write(key, set, f[11] or nil, apart)
    delayed_add(shard, tonumber(due), member)
    local out = {'delayed', shard, tonumber(due)}
    local next = redis.call('ZRANGE', k_job_waiting(job_id), 0, 0)[1]
    if next then
      redis.call('ZREM', k_job_waiting(job_id), next)
      redis.call('HSET', k_run(next), 'status', 'pending')
      ready_add(shard, 0, run_member(next))
      out[4] = run_member(next)
    end
    Q.done(run_id, out)
    return out
  end
  set[#set + 1], set[#set + 2], set[#set + 3], set[#set + 4] = 'status', status, 'finished_at', now_s
  local big = run_write(key, set, f[11] or nil, apart)
  if f[9] then redis.call('HDEL', key, 'next_retry_at') end
  local run = {job_id = job_id, _shard = f[4], concurrency_key = ckey, _retention = f[7] or nil,
               workflow_step_run_id = f[10] or false, _big = big}
  local out = run_ended(run_id, run, now, true)
  table.insert(out, 1, 'ok')
  return out
end

local out, i = {}, 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = finish(i + 1, i + n)
  i = i + 1 + n
end
for shard, members in pairs(unrun) do redis.call('ZREM', k_running(shard), unpack(members)) end
return out
