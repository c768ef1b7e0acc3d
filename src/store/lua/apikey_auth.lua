-- apikey_auth: ARGV: hex SHA-256 of a presented key. Returns the key JSON,
-- or false when no key of this tenant has that hash.
want_tenant()
local id = redis.call('HGET', K_APIKEY_HASHES, ARGV[1])
if not id then return false end
return redis.call('HGET', K_APIKEYS, id)
