-- apikey_delete: ARGV: key id. Returns 1, or 0 when there is no such key.
want_tenant()
local json = redis.call('HGET', K_APIKEYS, ARGV[1])
if not json then return 0 end
local key = cjson.decode(json)
redis.call('HDEL', K_APIKEY_HASHES, key.sha256)
redis.call('HDEL', K_APIKEYS, ARGV[1])
return 1
