-- job_list: a page of jobs, newest first, optionally filtered.
-- ARGV: cursor position ("" = from the newest), cursor id, limit,
--       project_id, group_id, tag key, tag value, enabled ("", "true", "false"),
--       include soft-deleted jobs ("1") or not ("")
-- Returns {has_more, next position, next id, job JSON, next firing, ...}
-- (each job followed by its next firing in ms, or false). A position is a
-- place in the creation order (K_JOB_ORDER); the id there tells whether
-- jobs deleted since have moved it. A page examines at most a bounded
-- number of jobs; when filters reject many it can come back short with
-- has_more = 1 and a cursor to continue from.
want_tenant(); want_int(3, 1, PAGE_MAX, 'limit')
local cpos, cid, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local project, group, tagk, tagv, enabled = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local with_deleted = ARGV[9] == '1'
local filtered = project ~= '' or group ~= '' or tagk ~= '' or enabled ~= ''
local budget = math.max(1000, limit * 20)
local out, count = {}, 0
local last_pos, last_id = nil, nil
local more = 0

-- the next position to look at is pos - 1
local pos = redis.call('LLEN', K_JOB_ORDER)
if cpos ~= '' then
  local p = tonumber(cpos)
  if job_ids(p, p)[1] ~= cid then
    p = redis.call('LPOS', K_JOB_ORDER, id_pack(cid), 'RANK', -1) or math.min(p, pos)
  end
  pos = p
end

local deleted_probe = '"' .. job_key('deleted_at') .. '":'
local function match(json)
  if not with_deleted and string.find(json, deleted_probe, 1, true) then return false end
  if not filtered then return true end
  local job = job_decode(json)
  if project ~= '' and job.project_id ~= project then return false end
  if group ~= '' and job.group_id ~= group then return false end
  if enabled ~= '' and tostring(job.enabled ~= false) ~= enabled then return false end
  if tagk ~= '' then
    local tags = job.tags
    if type(tags) ~= 'table' or tags[tagk] == nil then return false end
    if tagv ~= '' and tags[tagk] ~= tagv then return false end
  end
  return true
end

while pos > 0 and more == 0 do
  local lo = math.max(0, pos - 200)
  local ids = job_ids(lo, pos - 1)
  for i = #ids, 1, -1 do
    if count == limit or budget == 0 then more = 1; break end
    budget = budget - 1
    local id = ids[i]
    last_pos, last_id = lo + i - 1, id
    local json = job_raw(id)
    if json and match(json) then
      count = count + 1
      out[#out + 1] = with_id(id, json)
      out[#out + 1] = next_run_at(id)
    end
  end
  pos = lo
end
return {more, last_pos and tostring(last_pos) or '', last_id or '', unpack(out)}
