-- run_list: a page of runs, newest first. ARGV: job id or name ("" = every
-- job of the tenant), cursor score ("" = newest), cursor id, limit, status
-- ("" = any). Returns false when the job named does not exist.
-- Returns {has_more, next_score, next_id, pairs of run 1, pairs of run 2...}
-- (each run as its HGETALL array). Like job_list, a page examines a bounded
-- number of runs and may come back short with has_more = 1.
local job, cscore, cid, limit, status = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local index = K_RUNS
if job ~= '' then
  local id = resolve_job(job)
  if not id then return false end
  index = k_job_runs(id)
end
local max = '+inf'
if cscore ~= '' then max = cscore end
local budget = math.max(1000, limit * 20)
local out, count, offset, more = {}, 0, 0, 0
local last_score, last_id = nil, nil
while more == 0 do
  local page = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, 200)
  if #page == 0 then break end
  offset = offset + #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if not (cscore ~= '' and tonumber(score) == tonumber(cscore) and id >= cid) then
      if count == limit or budget == 0 then more = 1; break end
      budget = budget - 1
      last_score, last_id = score, id
      local key = k_run(id)
      if status == '' or redis.call('HGET', key, 'status') == status then
        local pairs = redis.call('HGETALL', key)
        if #pairs > 0 then
          count = count + 1
          out[#out + 1] = pairs
        end
      end
    end
  end
end
return {more, last_score or '', last_id or '', unpack(out)}
