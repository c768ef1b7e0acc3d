-- builtin: the Builtin job handlers — housekeeping on a tenant's own
-- jobwheel data, one bounded pass each. ARGV: handler name, the job's
-- job_configuration.params (JSON object or ""), the run's params (JSON
-- object or "", these win), now (ms), the run's id, history retention
-- (ms). With params.dry_run true a handler counts what it would do and
-- changes nothing.
-- Returns {"ok", result JSON, runs to start...} | {"unknown"} | {"error", message}
want_tenant(); want_time(4); want_int(6, 0, RETENTION_MAX, 'retention, ms')
local handler, now, run_id, retention = ARGV[1], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local params = {}
for _, text in ipairs({ARGV[2], ARGV[3]}) do
  if text ~= '' then
    local ok, obj = pcall(cjson.decode, text)
    if ok and type(obj) == 'table' then
      for k, v in pairs(obj) do params[k] = v end
    end
  end
end
local dry = params.dry_run == true
local function num(name, def, lo, hi)
  local v = tonumber(params[name])
  if not v then return def end
  return math.max(lo, math.min(hi, math.floor(v)))
end
local limit = num('limit', 10000, 1, 100000)
local DAY = 86400000

-- "2026-03-26T02:00:00.000Z" -> epoch ms (false when not such a time)
local function iso_ms(s)
  if type(s) ~= 'string' then return false end
  local y, mo, d, h, mi, sec, ms = string.match(s, '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$')
  if not y then return false end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(sec) * 1000 +
         (ms ~= '' and tonumber(string.sub(ms .. '00', 1, 3)) or 0)
end

-- a JSON array of already-encoded items ("[]" when empty, which cjson
-- would write as {})
local function list(items)
  return '[' .. table.concat(items, ',') .. ']'
end

local function keys_json()
  local out = {}
  local all = redis.call('HGETALL', K_APIKEYS)
  for i = 1, #all, 2 do out[#out + 1] = {all[i], cjson.decode(all[i + 1])} end
  return out
end

local function key_item(k, reason)
  return cjson.encode({id = k.id, name = k.name, prefix = k.prefix, expires_at = k.expires_at,
                       created_at = k.created_at, reason = reason})
end

local H = {}

-- API keys past their expiry are removed (they no longer authenticate).
function H.tokenExpiry()
  local checked, removed = 0, 0
  for _, p in ipairs(keys_json()) do
    checked = checked + 1
    local exp = iso_ms(p[2].expires_at)
    if exp and exp <= now then
      removed = removed + 1
      if not dry then
        redis.call('HDEL', K_APIKEY_HASHES, p[2].sha256)
        redis.call('HDEL', K_APIKEYS, p[1])
      end
    end
  end
  return string.format('{"tokens_checked":%d,"expired_removed":%d}', checked, removed)
end

-- Run history past its retention: index entries whose run record has
-- expired are dropped from the tenant's and each job's run lists.
function H.cleanupExpiredSessions()
  local checked, removed = 0, 0
  local function sweep(zkey)
    local ids = redis.call('ZRANGE', zkey, 0, limit - checked - 1)
    for _, id in ipairs(ids) do
      checked = checked + 1
      if redis.call('EXISTS', k_run(id)) == 0 then
        removed = removed + 1
        if not dry then redis.call('ZREM', zkey, id) end
      end
    end
  end
  sweep(K_RUNS)
  for _, job in ipairs(job_ids()) do
    if checked >= limit then break end
    sweep(k_job_runs(job))
  end
  return string.format('{"entries_checked":%d,"expired_removed":%d}', checked, removed)
end

-- The job indexes agree with the jobs: names, slugs and places in the
-- creation order that point at no job are dropped; so are scheduler
-- entries of jobs that are gone.
function H.dataSync()
  local fixed, checked = 0, 0
  idx_each(function(name, id)
    checked = checked + 1
    if not job_raw(id) then
      fixed = fixed + 1
      if not dry then idx_drop(name, id) end
    end
  end)
  idx_flush()
  for _, id in ipairs(job_ids(0, limit - 1)) do
    checked = checked + 1
    if not job_raw(id) then
      fixed = fixed + 1
      if not dry then
        job_remove(id)
        redis.call('ZREM', due_key(id), due_member(id))
      end
    end
  end
  if not dry then -- the usage counts of the quotas, made again from the jobs
    redis.call('DEL', T .. ':usage')
    Q.counts()
  end
  return string.format('{"records_checked":%d,"inconsistencies_fixed":%d}', checked, fixed)
end

-- Runs per job and status over the last params.window_hours (24).
function H.reportGeneration()
  local hours = num('window_hours', 24, 1, 24 * 366)
  local from = now - hours * 3600000
  local per, order, totals = {}, {}, {total = 0}
  local ids = redis.call('ZRANGEBYSCORE', K_RUNS, from, '+inf', 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', k_run(id), 'job_id', 'status')
    if r[1] then
      local j = per[r[1]]
      if not j then
        j = {job_id = r[1], total = 0}
        per[r[1]] = j
        order[#order + 1] = r[1]
      end
      j.total = j.total + 1
      j[r[2]] = (j[r[2]] or 0) + 1
      totals.total = totals.total + 1
      totals[r[2]] = (totals[r[2]] or 0) + 1
    end
  end
  table.sort(order)
  local items = {}
  for _, job in ipairs(order) do
    local json = job_raw(job)
    per[job].name = json and job_decode(json).name or nil
    items[#items + 1] = cjson.encode(per[job])
  end
  return string.format('{"window_hours":%d,"jobs_reported":%d,"totals":%s,"jobs":%s}', hours, #order,
                       cjson.encode(totals), list(items))
end

-- Earlier versions of job definitions (the catalogue's audit trail) older
-- than params.older_than_days (90) move to the tenant's archive list.
function H.auditLogArchive()
  local cutoff = now - num('older_than_days', 90, 0, 36500) * DAY
  local checked, archived = 0, 0
  for _, job in ipairs(job_ids()) do
    local key = T .. ':job:' .. job .. ':versions'
    local old = 0
    for _, v in ipairs(redis.call('LRANGE', key, 0, -1)) do
      checked = checked + 1
      local d = job_decode(v) -- updated_at is left out while it equals created_at
      local at = iso_ms(d.updated_at or job_created_at(job, d))
      if at and at < cutoff then old = old + 1 else break end
    end
    if old > 0 then
      archived = archived + old
      if not dry then
        for _, v in ipairs(redis.call('LRANGE', key, 0, old - 1)) do
          redis.call('RPUSH', T .. ':archive:versions', v)
        end
        redis.call('LTRIM', key, old, -1)
      end
    end
    if checked >= limit then break end
  end
  return string.format('{"entries_checked":%d,"archived":%d}', checked, archived)
end

-- API keys older than params.max_age_days (90) or expiring within
-- params.warn_days (14) are due for rotation.
function H.credentialRotationCheck()
  local max_age, warn = num('max_age_days', 90, 1, 36500) * DAY, num('warn_days', 14, 0, 3650) * DAY
  local due, checked = {}, 0
  for _, p in ipairs(keys_json()) do
    checked = checked + 1
    local k = p[2]
    local exp, made = iso_ms(k.expires_at), iso_ms(k.created_at)
    if exp and exp > now and exp <= now + warn then
      due[#due + 1] = key_item(k, 'expires_soon')
    elseif made and now - made >= max_age then
      due[#due + 1] = key_item(k, 'older_than_max_age')
    end
  end
  return string.format('{"credentials_checked":%d,"due_for_rotation":%d,"credentials":%s}', checked, #due,
                       list(due))
end

-- What stops working within params.days (7): API keys that expire, and
-- one-off jobs whose single run_at falls in the window.
function H.generateWeeklyExpiryReport()
  local horizon = now + num('days', 7, 1, 366) * DAY
  local keys, jobs = {}, {}
  for _, p in ipairs(keys_json()) do
    local exp = iso_ms(p[2].expires_at)
    if exp and exp > now and exp <= horizon then keys[#keys + 1] = key_item(p[2], 'expires') end
  end
  local all = redis.call('HGETALL', K_JOBS)
  for i = 1, #all, 2 do
    local j = job_decode(all[i + 1])
    local at = iso_ms(j.run_at)
    if at and at > now and at <= horizon and not j.cron and not j.interval_seconds then
      jobs[#jobs + 1] = cjson.encode({id = id_unpack(all[i]), name = j.name, run_at = j.run_at})
    end
  end
  return string.format('{"days":%d,"keys_expiring":%d,"one_off_jobs_due":%d,"keys":%s,"jobs":%s}',
                       num('days', 7, 1, 366), #keys, #jobs, list(keys), list(jobs))
end

-- A workflow's own schedule: a job with this handler starts params.workflow
-- (id or name) at every firing — once per run, however often it is retried.
local started = {}
function H.startWorkflow()
  local ref = params.workflow
  if type(ref) ~= 'string' then return nil, 'params.workflow (a workflow id or name) is required' end
  local id = redis.call('HGET', K_WORKFLOWS .. ':names', ref) or ref
  if redis.call('HEXISTS', K_WORKFLOWS, id) == 0 then return nil, 'no such workflow: ' .. ref end
  if dry then return string.format('{"workflow_id":%s}', cjson.encode(id)) end
  local wfrun = derived_id(run_id, 'workflow')
  local out = trigger_workflow(id, wfrun, now, retention, 'job-run:' .. run_id)
  for i = 4, #out do started[#started + 1] = out[i] end
  return string.format('{"workflow_id":%s,"workflow_run_id":%s,"status":%s}', cjson.encode(id),
                       cjson.encode(wfrun), cjson.encode(out[3]))
end

local fn = H[handler]
if not fn then return {'unknown'} end
local body, err = fn()
if not body then return {'error', err} end
-- every result says whether it changed anything
local out = {'ok', string.sub(body, 1, -2) .. ',"dry_run":' .. tostring(dry) .. '}'}
for _, m in ipairs(started) do out[#out + 1] = m end
return out
