-- release_send: takes one send made at `now` out of each log (the reservation is identified by
-- its instant, as the store trait says).
-- KEYS: send logs of one slot. ARGV: now.
for _, key in ipairs(KEYS) do
  local found = redis.call('ZRANGEBYSCORE', key, ARGV[1], ARGV[1], 'LIMIT', 0, 1)
  if found[1] then
    redis.call('ZREM', key, found[1])
  end
end
return 0
