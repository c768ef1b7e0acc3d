-- run_start: start the next attempt of ready runs, each if its limits allow
-- (one or several runs in one step: an instance asks together for what it
-- made room for in one turn of its loop; each run is its own transition).
-- ARGV: instance id, now (ms), lease (ms), the instance's default inflight
-- quota (see the prelude's Quotas), then the run ids.
-- Returns per run: {"started", attempt, job JSON, webhook secret or false,
--         the run's fields the engine reads (START_FIELDS), packed (pack_fields)}
--       | {"waiting"} (a concurrency limit holds it; it becomes ready when a
--         run of its job ends) | {"delayed", when, shard} (a rate limit:
--         ready then)
--       | {"waiting"} also while its job's prerequisites are not satisfied
--         (it becomes ready when one of their runs ends and they are)
--       | {"ended", members to start...} (expired, or its job was deleted)
--       | {"gone"} | {"skip", status}
-- A run promoted ahead of its time (run_promote: one of a burst) starts at
-- its time: its _attempt_started (and its lease) are later than now, and
-- the caller makes its call then.
-- (The work is start_attempt's, in the prelude: run_create does it too.)
want_tenant(); want_instance(1); want_time(2); want_int(3, 0, RUN_LEASE_MAX, 'lease, ms')
want_int(4, 0, QUOTA_MAX, 'inflight quota')
for i = 5, #ARGV do want_id(i, 'run id') end
local instance, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
Q.defaults.inflight = ARGV[4]
local jobs, decoded = {}, {} -- job id -> its JSON (false: gone), and decoded: once per step

local function start(run_id)
  local key = k_run(run_id)
  local run = hgetall_table(key)
  if not run.status then return {'gone'} end
  if run.status ~= 'pending' and run.status ~= 'delayed' then return {'skip', run.status} end
  local at, queue = now, 'ready' -- when its attempt starts, and where it waits (a pending run: ready)
  if run.status == 'delayed' then
    local shard, member = tonumber(run._shard), run_member(run_id)
    local due = redis.call('ZSCORE', k_delayed(shard), member)
    if due then
      if tonumber(due) > now then return {'skip', 'delayed'} end
      queue = 'delayed'
    else -- promoted ahead of its time, one of a burst (run_promote): it starts at its time
      due = redis.call('ZSCORE', k_ready(shard), member)
      if not due then queue = nil end -- (in neither: as it may be, both are looked at)
      due = tonumber(due or now)
      if due > now + AHEAD_MAX then return {'skip', 'delayed'} end
      if due > now then at = due end
    end
  end
  local id = run.job_id
  if jobs[id] == nil then
    jobs[id] = job_raw(id)
    if jobs[id] then decoded[id] = job_decode(jobs[id]) end
  end
  local out = start_attempt(run_id, run, jobs[id], decoded[id], instance, at, lease, false, queue)
  if out[1] == 'started' then -- the fields the engine reads (start_attempt keeps `run` as the hash is)
    local flat = {}
    for _, k in ipairs(START_FIELDS) do
      local v = run[k]
      if v then flat[#flat + 1] = k; flat[#flat + 1] = v end
    end
    out[5] = pack_fields(flat)
  end
  return out
end

local out = {}
for i = 5, #ARGV do out[#out + 1] = start(ARGV[i]) end
return out
