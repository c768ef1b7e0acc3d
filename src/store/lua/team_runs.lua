-- team_runs: seed 001's view of runs, each with its job's slug (its
-- job_type there); system jobs' runs are never shown.
-- ARGV: "get", run id -> {slug, HGETALL} | false
-- ARGV: "list", cursor score ("" = newest), cursor id, limit, slug ("" =
--   any), statuses (",a,b," or ""), project id ("" = any), since ms ("" =
--   none), until ms ("" = none)
--   -> {has_more, next score, next id, then per run: slug, HGETALL}
-- A page examines a bounded number of runs and may come back short with
-- has_more = 1.
local jobs = {}
local function job_of(id)
  local j = jobs[id]
  if j == nil then
    local json = redis.call('HGET', K_JOBS, id)
    if json then
      local d = cjson.decode(json)
      local slug = d.slug
      if slug == nil or slug == cjson.null then slug = d.name end
      j = {slug = slug, system = d.system == true}
    else
      j = false
    end
    jobs[id] = j
  end
  return j
end

if ARGV[1] == 'get' then
  local pairs = redis.call('HGETALL', k_run(ARGV[2]))
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
local budget = math.max(1000, limit * 20)
local out, count, offset, more = {}, 0, 0, 0
local last_score, last_id = nil, nil
while more == 0 do
  local page = redis.call('ZREVRANGEBYSCORE', K_RUNS, max, min, 'WITHSCORES', 'LIMIT', offset, 200)
  if #page == 0 then break end
  offset = offset + #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if not (cscore ~= '' and tonumber(score) == tonumber(cscore) and id >= cid) then
      if count == limit or budget == 0 then more = 1; break end
      budget = budget - 1
      last_score, last_id = score, id
      local r = redis.call('HMGET', k_run(id), 'job_id', 'status', 'project_id')
      local j = r[1] and job_of(r[1])
      if j and not j.system and (slug == '' or j.slug == slug) and
         (statuses == '' or string.find(statuses, ',' .. r[2] .. ',', 1, true)) and
         (project == '' or r[3] == project) then
        count = count + 1
        out[#out + 1] = j.slug
        out[#out + 1] = redis.call('HGETALL', k_run(id))
      end
    end
  end
end
return {more, last_score or '', last_id or '', unpack(out)}
