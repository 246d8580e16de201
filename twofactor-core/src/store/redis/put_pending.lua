-- put_pending: the phone's live code, replacing any earlier one; counters untouched.
-- KEYS: the phone record. ARGV: clock, pending id, lifetime_ms (0: already expired), ticket.
local now = clock(ARGV[1])
local r = load(KEYS[1])
r.pid = ARGV[2]
r.pexp = now + tonumber(ARGV[3])
r.tkt = ARGV[4]
save(KEYS[1], r, now)
return 0
