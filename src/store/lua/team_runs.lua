-- team_runs: seed 001's view of runs, each with its job's slug (its
-- job_type there); system jobs' runs are never shown.
-- ARGV: "get", run id -> {slug, HGETALL} | false
-- ARGV: "list", cursor score ("" = newest), cursor id, limit, slug ("" =
--   any), statuses (",a,b," or ""), project id ("" = any), since ms ("" =
--   none), until ms ("" = none)
--   -> {has_more, next score, next id, then per run: slug, HGETALL}
-- (see runs_page).
want_tenant()
if ARGV[1] == 'get' then want_id(2, 'run id') else want_int(4, 1, PAGE_MAX, 'limit') end
local jobs = {}
local function job_of(id)
  local j = jobs[id]
  if j == nil then
    local json = job_raw(id)
    if json then
      local d = job_decode(json)
      j = {slug = job_slug(d), system = d.system == true}
    else
      j = false
    end
    jobs[id] = j
  end
  return j
end

if ARGV[1] == 'get' then
  local pairs = run_all(k_run(ARGV[2]))
  if #pairs == 0 then return false end
  local job_id
  for i = 1, #pairs, 2 do if pairs[i] == 'job_id' then job_id = pairs[i + 1] end end
  local j = job_id and job_of(job_id)
  if j and j.system then return false end
  return {j and j.slug or '', pairs}
end

local cscore, cid, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local slug, statuses, project, since, untl = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local max = untl ~= '' and untl or '+inf'
if cscore ~= '' and (max == '+inf' or tonumber(cscore) < tonumber(max)) then max = cscore end
local min = since ~= '' and since or '-inf'
return runs_page(K_RUNS, max, min, cscore, cid, limit, function(id)
  local r = redis.call('HMGET', k_run(id), 'job_id', 'status', 'project_id')
  local j = r[1] and job_of(r[1])
  if not j or j.system or (slug ~= '' and j.slug ~= slug) or
     (statuses ~= '' and not string.find(statuses, ',' .. r[2] .. ',', 1, true)) or
     (project ~= '' and r[3] ~= project) then
    return nil
  end
  return {j.slug, run_all(k_run(id))}
end)
