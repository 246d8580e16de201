-- reserve_send, the shared half: the per-IP cap and the overall cap, checked and (if both pass)
-- recorded in one step.
-- KEYS: the overall log, then the client IP's log if the IP is known (one hash tag: one slot).
-- ARGV: now, window_ms, per_ip cap, overall cap, member (the same id as the phone's half).
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

if #KEYS > 1 then
  local wait = window_wait(KEYS[2], tonumber(ARGV[3]), window, now)
  if wait > 0 then
    return { REFUSED, IP_HOURLY, wait }
  end
end
local wait = window_wait(KEYS[1], tonumber(ARGV[4]), window, now)
if wait > 0 then
  return { REFUSED, GLOBAL_HOURLY, wait }
end

for _, key in ipairs(KEYS) do
  log_send(key, ARGV[5], window, now)
end
return { GRANTED }
