-- run_finish: the outcomes of attempts, from the instance that ran them
-- (or, for a lapsed lease, from whoever found it), one or several runs in
-- one step (an instance sends together what ended in one turn of its loop;
-- each run is its own transition, as if finished alone). Fenced: nothing
-- happens to a run unless it is still running that very attempt (and, when
-- an instance is given, by that instance; when "lapsed" is "1", its lease
-- has run out).
-- ARGV, per run: the number of its arguments, then them: run id, attempt,
--       instance or "", lapsed ("1"/""), now (ms),
--       next status: completed | failed | timed_out | crashed | delayed
--       (retry at `due`) | worker (a worker took it over; its heartbeat is
--       due by `due`), due (ms or ""), attempt log entry (JSON object),
--       then field/value pairs to set (result, error, execution_trace, ...).
-- Returns per run: {"ok", members to start...} | {"fenced", status} | {"gone"}
local function finish(A)
  local run_id, attempt, instance, lapsed = A[1], A[2], A[3], A[4] == '1'
  local now, status, due, entry = tonumber(A[5]), A[6], A[7], A[8]
  local key = k_run(run_id)
  local f = redis.call('HMGET', key, 'status', 'attempt', '_instance', '_shard', 'job_id', 'concurrency_key',
                      '_retention', 'attempts', 'next_retry_at', 'workflow_step_run_id')
  local run = {status = f[1], attempt = f[2], _instance = f[3], _shard = f[4], job_id = f[5],
               concurrency_key = f[6] or nil, _retention = f[7] or nil, workflow_step_run_id = f[10] or false}
  if not run.status then return {'gone'} end
  local shard, member = tonumber(run._shard), run_member(run_id)
  if run.status ~= 'running' or run.attempt ~= attempt or (instance ~= '' and run._instance ~= instance) then
    return {'fenced', run.status}
  end
  if lapsed then
    local lease = redis.call('ZSCORE', k_running(shard), member)
    if lease and tonumber(lease) > now then return {'fenced', 'running'} end
  end
  -- one HSET: the fields given, the attempt appended to the run's log, then
  -- the new state (a later pair wins over an earlier one of the same field)
  local set = {}
  for i = 9, #A do set[#set + 1] = A[i] end
  if entry ~= '' then
    local cur = f[8]
    set[#set + 1] = 'attempts'
    if not cur or cur == '[]' then
      set[#set + 1] = '[' .. entry .. ']'
    else
      set[#set + 1] = string.sub(cur, 1, -2) .. ',' .. entry .. ']'
    end
  end
  local function put(...)
    for _, v in ipairs({...}) do set[#set + 1] = v end
    if #set > 0 then redis.call('HSET', key, unpack(set)) end
  end
  if status == 'worker' then
    put('_phase', 'worker', 'heartbeat_at', A[5])
    redis.call('ZADD', k_running(shard), tonumber(due), member)
    return {'ok'}
  end
  -- the attempt is over: its concurrency slot is free
  redis.call('SREM', k_job_active(run.job_id), run_id)
  if run.concurrency_key then redis.call('SREM', k_job_active(run.job_id) .. ':' .. run.concurrency_key, run_id) end
  redis.call('ZREM', k_running(shard), member)
  if status == 'delayed' then
    put('status', 'delayed', 'next_retry_at', due)
    redis.call('ZADD', k_delayed(shard), tonumber(due), member)
    local next = redis.call('ZRANGE', k_job_waiting(run.job_id), 0, 0)[1]
    if next then
      redis.call('ZREM', k_job_waiting(run.job_id), next)
      redis.call('HSET', k_run(next), 'status', 'pending')
      redis.call('ZADD', k_ready(shard), 0, run_member(next))
      return {'ok', run_member(next)}
    end
    return {'ok'}
  end
  put('status', status, 'finished_at', A[5])
  if f[9] then redis.call('HDEL', key, 'next_retry_at') end
  local out = {'ok'}
  for _, m in ipairs(run_ended(run_id, run, now, true)) do out[#out + 1] = m end
  return out
end

local out, i = {}, 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = finish({unpack(ARGV, i + 1, i + n)})
  i = i + 1 + n
end
return out
