-- job_list: a page of jobs, newest first, optionally filtered.
-- ARGV: cursor score ("" = from the newest), cursor id, limit,
--       project_id, group_id, tag key, tag value, enabled ("", "true", "false"),
--       include soft-deleted jobs ("1") or not ("")
-- Returns {has_more, next_score, next_id, job JSON, next firing, ...}
-- (each job followed by its next firing in ms, or false). A page examines at
-- most a bounded number of jobs; when filters reject many it can come back
-- short with has_more = 1 and a cursor to continue from.
local cscore, cid, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local project, group, tagk, tagv, enabled = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local with_deleted = ARGV[9] == '1'
local filtered = project ~= '' or group ~= '' or tagk ~= '' or enabled ~= ''
local budget = math.max(1000, limit * 20)
local max = '+inf'
if cscore ~= '' then max = cscore end
local out, count, offset = {}, 0, 0
local last_score, last_id = nil, nil
local more = 0

local function match(json)
  if not with_deleted and string.find(json, '"deleted_at":', 1, true) then return false end
  if not filtered then return true end
  local job = cjson.decode(json)
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

while true do
  local page = redis.call('ZREVRANGEBYSCORE', K_JOBS_CREATED, max, '-inf', 'WITHSCORES', 'LIMIT', offset, 200)
  if #page == 0 then break end
  offset = offset + #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    local skip = cscore ~= '' and tonumber(score) == tonumber(cscore) and id >= cid
    if not skip then
      if count == limit then more = 1; break end
      if budget == 0 then more = 1; break end
      budget = budget - 1
      last_score, last_id = score, id
      local json = redis.call('HGET', K_JOBS, id)
      if json and match(json) then
        count = count + 1
        out[#out + 1] = with_id(id, json)
        out[#out + 1] = next_run_at(id)
      end
    end
  end
  if more == 1 then break end
end
return {more, last_score or '', last_id or '', unpack(out)}
