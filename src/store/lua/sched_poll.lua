-- sched_poll: what the owner of a shard must know about its next window.
-- KEYS[1] = "jw:{s:<n>}". ARGV: mode ("full" | "more"), from (exclusive,
-- ms; ignored when full), to (ms), limit.
-- full: every member due at or before `to` (a shard just taken over), and
--       the change list is dropped (all of it is in the answer);
-- more: members due in (from, to], then the members the change list names
--       that are now due by `to` or no longer due at all (score false);
--       the others come with the window when their time nears.
-- Returns {number of range entries, then triples: the member's name
-- "<tenant>:<job id>", score or false, job JSON or false}. Members whose job
-- no longer exists are removed.
want_shard_key(); want_time(3, 'to, ms'); want_int(4, 1, SCAN_MAX, 'limit')
if ARGV[1] ~= 'full' then want_time(2, 'from, ms') end
local P = KEYS[1]
local due, changes = P .. ':due', P .. ':changes'
local mode, from, to, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {0}
local seen = {}

local function add(member, score)
  if seen[member] then return end
  seen[member] = true
  local name = due_member_name(member)
  local json = false
  if score then
    local tenant, job = string.match(name, '^(.*):([^:]*)$')
    json = with_id(job, job_raw_in('jw:{' .. tenant .. '}', job))
    if not json then
      redis.call('ZREM', due, member)
      score = false
    end
  end
  out[#out + 1] = name
  out[#out + 1] = score
  out[#out + 1] = json
end

local range
if mode == 'full' then
  redis.call('DEL', changes)
  range = redis.call('ZRANGEBYSCORE', due, '-inf', to, 'WITHSCORES', 'LIMIT', 0, limit)
else
  range = redis.call('ZRANGEBYSCORE', due, '(' .. from, to, 'WITHSCORES', 'LIMIT', 0, limit)
end
for i = 1, #range, 2 do add(range[i], range[i + 1]) end
out[1] = #range / 2
if mode ~= 'full' then
  local names = redis.call('LRANGE', changes, 0, 999)
  if #names > 0 then redis.call('LTRIM', changes, #names, -1) end
  for i = 1, #names do
    local score = redis.call('ZSCORE', due, names[i])
    if not score or tonumber(score) <= tonumber(to) then add(names[i], score or false) end
  end
end
return out
