-- system_stats: seed 000's job stats. ARGV: the system job names. Returns
-- one JSON object per name: {jobName, exists, enabled, schedule,
-- nextRunAt, status (idle | queued | running), lastRun, counts,
-- averageDurationMs, progress} over the job's last 1000 runs.
want_tenant()
local function iso(ms)
  ms = tonumber(ms)
  if not ms then return cjson.null end
  return iso_of_ms(ms)
end
local out = {}
for _, name in ipairs(ARGV) do
  local o = {jobName = name, exists = false, status = 'idle', lastRun = cjson.null, nextRunAt = cjson.null,
             progress = cjson.null, averageDurationMs = cjson.null,
             counts = {total = 0, completed = 0, failed = 0, cancelled = 0, running = 0, queued = 0}}
  local id = idx_get(name)
  local json = id and job_raw(id)
  if json then
    local job = job_decode(json)
    o.exists, o.enabled = true, job.enabled ~= false and job.paused ~= true
    o.schedule = job.cron or cjson.null
    o.nextRunAt = iso(next_run_at(id))
    local sum, n = 0, 0
    for i, rid in ipairs(redis.call('ZREVRANGE', k_job_runs(id), 0, 999)) do
      local r = redis.call('HMGET', k_run(rid), 'status', 'started_at', 'finished_at', 'progress', 'error', 'created_at',
                           '_big')
      r[4], r[5] = big_get(k_run(rid), r[7], 'progress', r[4]), big_get(k_run(rid), r[7], 'error', r[5])
      local st = r[1]
      if st then
        o.counts.total = o.counts.total + 1
        if st == 'completed' then o.counts.completed = o.counts.completed + 1
        elseif st == 'running' then o.counts.running = o.counts.running + 1
        elseif st == 'cancelled' then o.counts.cancelled = o.counts.cancelled + 1
        elseif OPEN_STATES[st] then o.counts.queued = o.counts.queued + 1
        else o.counts.failed = o.counts.failed + 1 end
        if st == 'running' then
          o.status = 'running'
          if r[4] then o.progress = cjson.decode(r[4]) end
        elseif OPEN_STATES[st] and o.status == 'idle' then
          o.status = 'queued'
        end
        if r[2] and r[3] then sum = sum + tonumber(r[3]) - tonumber(r[2]); n = n + 1 end
        if i == 1 then
          o.lastRun = {jobId = 'job-' .. rid, status = st, createdAt = iso(r[6]), startedAt = iso(r[2]),
                       finishedAt = iso(r[3]), error = r[5] or cjson.null,
                       durationMs = (r[2] and r[3]) and (tonumber(r[3]) - tonumber(r[2])) or cjson.null}
        end
      end
    end
    if n > 0 then o.averageDurationMs = math.floor(sum / n) end
  end
  out[#out + 1] = cjson.encode(o)
end
return out
