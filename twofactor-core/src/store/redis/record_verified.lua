-- record_verified: one successful verification in the country's verified log.
-- KEYS: the country's verified log. ARGV: clock, window_ms, member (unique).
local now = clock(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - window))
log_send(KEYS[1], ARGV[3], window, now)
return 0
