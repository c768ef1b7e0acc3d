-- run_promote: a shard's delayed runs that are due become ready, now — an
-- instance's clock of due times went off for the shard (exec/due.c).
-- KEYS[1] = "jw:{s:<n>}". ARGV: now (ms), limit.
-- Returns {more (1: runs are still due: call again), the shard's next due
-- time (ms, -1: none), the members promoted...}: the caller starts them.
want_shard_key(); want_time(1); want_int(2, 1, SCAN_MAX, 'limit')
local out = {0, -1}
local more, next_due = shard_promote(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), out)
out[1], out[2] = more and 1 or 0, next_due
return out
