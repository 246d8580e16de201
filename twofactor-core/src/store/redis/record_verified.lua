-- record_verified: one successful verification in the country's verified log.
-- KEYS: the country's verified log. ARGV: clock, window_ms, member (unique).
local now = clock(ARGV[1])
-- log_send trims what left the window, after adding (never empty, then write).
log_send(KEYS[1], ARGV[3], tonumber(ARGV[2]), now)
return 0
