-- begin_attempt: first, if a client address's budget key is given, count the verify against
-- it or refuse (then nothing else is read). Then refuse if locked or if there is no live code;
-- otherwise count the attempt before the comparison, lock at once if it spends the budget,
-- and hand out the ticket.
-- KEYS: the phone record, then (standalone servers only: another slot) the address's budget.
-- ARGV: clock, max_attempts, lockout_ms, memory_ms, verifies per address, its window_ms.
-- Reply: {0, retry_after_ms} locked | {1} no code | {2, pending id, ticket, attempt, last} |
-- {3, retry_after_ms} the address's budget is spent.
local now = clock(ARGV[1])
local max = tonumber(ARGV[2])

if KEYS[2] then
  local wait = verify_budget(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), now)
  if wait > 0 then
    return { 3, wait }
  end
end

local r = load(KEYS[1])
local changed = settle(r, now)
if r.lock > now then
  if changed then save(KEYS[1], r, now) end
  return { 0, r.lock - now }
end
if not r.pid then
  if changed then save(KEYS[1], r, now) end
  return { 1 }
end

r.att = r.att + 1
r.attu = now + tonumber(ARGV[4])
local last = 0
if r.att >= max then
  r.lock = now + tonumber(ARGV[3])
  last = 1
end
local reply = { 2, r.pid, r.tkt or '', r.att, last }
save(KEYS[1], r, now)
return reply
