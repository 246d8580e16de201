-- finish_attempt: the comparison's result for the code `pending id`.
-- KEYS: the phone record. ARGV: pending id, result (1 matched, 2 last mismatch), clock.
-- Reply: 0 done | 1 gone (the code was already consumed or replaced).
-- Like MokaStore, the id is checked before anything ages out: a match the provider confirmed
-- just as the code expired still counts.
local result = tonumber(ARGV[2])
local now = clock(ARGV[3])

local r = load(KEYS[1])
local current = r.pid ~= false and r.pid == ARGV[1]
local reply = 0
if result == 1 then
  if current then
    drop_code(r)
    r.att = 0
    r.lock = 0
  else
    reply = 1
  end
else
  -- The lock cancels whatever code is pending.
  drop_code(r)
end
save(KEYS[1], r, now)
return reply
