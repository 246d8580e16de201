-- reserve_send, the shared half: the per-address, per-range, voice, country conversion and
-- overall caps, checked in that order and (if all pass) recorded in one step.
-- KEYS (one hash tag: one slot): the overall log, the voice log, the country's send log, the
-- country's verified log, the number range's log, then the client address's log if known.
-- ARGV: clock, window_ms, per_ip, per_range, voice cap, voice (1/0), overall cap,
-- conversion min sends, conversion min per-mille, conversion window_ms, member (the same id
-- as the phone's half).
local now = clock(ARGV[1])
local window = tonumber(ARGV[2])
local voice = ARGV[6] == '1'
local cwindow = tonumber(ARGV[10])
local member = ARGV[11]

if KEYS[6] then
  local wait = window_wait(KEYS[6], tonumber(ARGV[3]), window, now)
  if wait > 0 then
    return { REFUSED, IP, wait }
  end
end
local wait = window_wait(KEYS[5], tonumber(ARGV[4]), window, now)
if wait > 0 then
  return { REFUSED, RANGE, wait }
end
if voice then
  wait = window_wait(KEYS[2], tonumber(ARGV[5]), window, now)
  if wait > 0 then
    return { REFUSED, CHANNEL, wait }
  end
end
local sends, verified = figures(KEYS[3], KEYS[4], cwindow, now)
local min = tonumber(ARGV[8])
if min > 0 and sends >= min and verified * 1000 < tonumber(ARGV[9]) * sends then
  -- The figures change by themselves first when the oldest send in the window leaves it.
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. int(now - cwindow), '+inf',
    'WITHSCORES', 'LIMIT', 0, 1)
  return { REFUSED, COUNTRY, math.max(tonumber(oldest[2]) + cwindow - now, 1) }
end
wait = window_wait(KEYS[1], tonumber(ARGV[7]), window, now)
if wait > 0 then
  return { REFUSED, GLOBAL, wait }
end

log_send(KEYS[1], member, window, now)
if voice then
  log_send(KEYS[2], member, window, now)
end
log_send(KEYS[3], member, cwindow, now)
log_send(KEYS[5], member, window, now)
if KEYS[6] then
  log_send(KEYS[6], member, window, now)
end
return { GRANTED }
