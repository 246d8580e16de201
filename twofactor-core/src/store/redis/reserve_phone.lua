-- reserve_send, the phone's half: the lock, the cooldown and the per-phone cap, checked and
-- (if all pass) recorded in one step.
-- KEYS: the phone record, the phone's send log (one hash tag: one slot).
-- ARGV: clock, cooldown_ms, per_phone cap, window_ms, member (unique id of this send).
local now = clock(ARGV[1])
local cooldown = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local window = tonumber(ARGV[4])

local r = load(KEYS[1])
if settle(r, now) then
  save(KEYS[1], r, now)
end
if r.lock > now then
  return { REFUSED, LOCKED, r.lock - now }
end

-- The newest send within the window (read, not trimmed: see the prelude).
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local t = tonumber(last[2])
  if t > now - window and t + cooldown > now then
    return { REFUSED, COOLDOWN, t + cooldown - now }
  end
end
local wait = window_wait(KEYS[2], cap, window, now)
if wait > 0 then
  return { REFUSED, PHONE, wait }
end

log_send(KEYS[2], ARGV[5], window, now)
return { GRANTED }
