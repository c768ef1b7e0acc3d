-- lib_seen: which builds' function libraries are still in use. Every
-- instance says, when it connects and then once a minute, that the library
-- of its build is in use; a library no instance has named for a day is
-- answered, for the caller to delete (a function cannot run FUNCTION
-- DELETE), and forgotten here. Builds that read a run's long values stored
-- apart (see the prelude's run_write; this one does) are listed in
-- `:libraries:apart`: while any library named in the last APART_LIVE_MS is
-- not, runs keep every value in their hash, as every build reads them (a
-- rolling upgrade).
-- KEYS[1] = "jw:{sched}". ARGV: this build's library name, now (ms), how
-- long a library may go unnamed (ms).
-- Returns {1 when every library in use reads values apart, else 0, then the
-- names of the libraries to delete}.
want_sched(); want_clock(2); want_int(3, 3600000, 365 * 86400000, 'keep, ms')
if type(ARGV[1]) ~= 'string' or #ARGV[1] > 64 or not string.find(ARGV[1], '^jobwheel_%x+$') then
  bad_arg("ARGV[1] (library) must be a library of jobwheel's, jobwheel_<hex>")
end
local APART_LIVE_MS = 150000 -- (each instance names its library once a minute)
local key = KEYS[1] .. ':libraries'
local mine, now, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HSET', key, mine, ARGV[2])
redis.call('HSET', key .. ':apart', mine, '1')
local out = {1}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  if all[i] ~= mine and tonumber(all[i + 1]) < now - keep then
    redis.call('HDEL', key, all[i])
    redis.call('HDEL', key .. ':apart', all[i])
    out[#out + 1] = all[i]
  elseif tonumber(all[i + 1]) >= now - APART_LIVE_MS and redis.call('HEXISTS', key .. ':apart', all[i]) == 0 then
    out[1] = 0
  end
end
return out
