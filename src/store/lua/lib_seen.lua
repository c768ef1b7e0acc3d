-- lib_seen: which builds' function libraries are still in use. Every
-- instance says, when it connects and then once a minute, that the library
-- of its build is in use; a library no instance has named for a day is
-- answered, for the caller to delete (a function cannot run FUNCTION
-- DELETE), and forgotten here.
-- KEYS[1] = "jw:{sched}". ARGV: this build's library name, now (ms), how
-- long a library may go unnamed (ms).
-- Returns the names of the libraries to delete.
want_sched(); want_clock(2); want_int(3, 3600000, 365 * 86400000, 'keep, ms')
if type(ARGV[1]) ~= 'string' or #ARGV[1] > 64 or not string.find(ARGV[1], '^jobwheel_%x+$') then
  bad_arg("ARGV[1] (library) must be a library of jobwheel's, jobwheel_<hex>")
end
local key = KEYS[1] .. ':libraries'
local mine, now, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HSET', key, mine, ARGV[2])
local out = {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  if all[i] ~= mine and tonumber(all[i + 1]) < now - keep then
    redis.call('HDEL', key, all[i])
    out[#out + 1] = all[i]
  end
end
return out
