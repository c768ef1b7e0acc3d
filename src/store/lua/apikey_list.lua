-- apikey_list: every key of the tenant (JSON), oldest first.
want_tenant()
local out = redis.call('HVALS', K_APIKEYS)
table.sort(out, function(a, b)
  return cjson.decode(a).created_at < cjson.decode(b).created_at
end)
return out
