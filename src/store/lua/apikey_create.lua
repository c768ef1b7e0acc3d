-- apikey_create: ARGV: key id, hex SHA-256 of the key, key JSON. Returns 1.
want_tenant()
redis.call('HSET', K_APIKEYS, ARGV[1], ARGV[3])
redis.call('HSET', K_APIKEY_HASHES, ARGV[2], ARGV[1])
return 1
