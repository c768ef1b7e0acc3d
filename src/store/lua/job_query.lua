-- job_query: one page of the tenant's jobs (soft-deleted ones left out),
-- filtered, searched and sorted, with the number of jobs that match.
-- ARGV: page (1-based), page size, job_type ("" = any), state ("" = any,
--       "enabled", "paused" or "disabled"), tag ("" = any; a tag key, or
--       key:value), search ("" = none; lower-case text looked for in the
--       name and the description), sort field (created_at, updated_at,
--       name or next_run_at), direction (asc or desc), flags (letters:
--       s = leave system jobs out, l = each job's last run too).
-- Returns {total, job JSON, next firing (ms) or false, ...} for the page;
-- with l, each job's third item is its newest run {id, status, started_at,
-- finished_at, created_at} (ms) or false.
-- The total needs every job of the tenant looked at: one pass, no index.
want_tenant(); want_int(1, 1, 1e7, 'page'); want_int(2, 1, PAGE_MAX, 'page size')
local page, size = tonumber(ARGV[1]), tonumber(ARGV[2])
local jtype, state, tag, search = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local sort, desc = ARGV[7], ARGV[8] == 'desc'
local no_system = string.find(ARGV[9] or '', 's', 1, true) ~= nil
local last_runs = string.find(ARGV[9] or '', 'l', 1, true) ~= nil

local function state_of(job)
  if job.enabled == false then return 'disabled' end
  if job.paused == true then return 'paused' end
  return 'enabled'
end

local function has_tag(job)
  local tags = job.tags
  if type(tags) ~= 'table' then return false end
  if tags[tag] ~= nil then return true end
  local k, v = string.match(tag, '^([^:]*):(.*)$')
  return k ~= nil and tags[k] == v
end

local function found_in(s)
  return type(s) == 'string' and string.find(string.lower(s), search, 1, true) ~= nil
end

local function match(job)
  if no_system and job.system == true then return false end
  if jtype ~= '' and (job.job_type or 'HttpCall') ~= jtype then return false end
  if state ~= '' and state_of(job) ~= state then return false end
  if tag ~= '' and not has_tag(job) then return false end
  if search ~= '' and not found_in(job.name) and not found_in(job.description) then return false end
  return true
end

local rows = {}
for _, id in ipairs(job_ids()) do
  local json = job_raw(id)
  if json and not string.find(json, '"' .. job_key('deleted_at') .. '":', 1, true) then
    local job = job_decode(json)
    if match(job) then
      local key
      if sort == 'next_run_at' then
        local n = next_run_at(id)
        key = n and tonumber(n) or nil
      elseif sort == 'name' then
        key = string.lower(job.name)
      else
        -- an ISO 8601 time: text order is time order (an unchanged job
        -- stores no updated_at: it is its created_at)
        key = job[sort] or job_created_at(id, job)
      end
      rows[#rows + 1] = {id = id, json = json, key = key}
    end
  end
end

-- rows without a key (no next firing) come last either way; ties by id,
-- in the same direction
table.sort(rows, function(a, b)
  if a.key == nil or b.key == nil then
    if a.key ~= nil then return true end
    if b.key ~= nil then return false end
    return a.id < b.id
  end
  if a.key ~= b.key then
    if desc then return a.key > b.key end
    return a.key < b.key
  end
  if desc then return a.id > b.id end -- ids are time-ordered (UUIDv7)
  return a.id < b.id
end)

local out = {#rows}
for i = (page - 1) * size + 1, math.min(page * size, #rows) do
  out[#out + 1] = with_id(rows[i].id, rows[i].json)
  out[#out + 1] = next_run_at(rows[i].id)
  if last_runs then
    local rid = redis.call('ZREVRANGE', k_job_runs(rows[i].id), 0, 0)[1]
    local r = rid and redis.call('HMGET', k_run(rid), 'status', 'started_at', 'finished_at', 'created_at')
    out[#out + 1] = (r and r[1]) and {rid, r[1], r[2] or '', r[3] or '', r[4] or ''} or false
  end
end
return out
