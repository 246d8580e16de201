-- put_pending: the phone's live code, replacing any earlier one; counters untouched.
-- KEYS: the phone record. ARGV: now, pending id, expires_at_ms, ticket.
local now = tonumber(ARGV[1])
local r = load(KEYS[1])
r.pid = ARGV[2]
r.pexp = tonumber(ARGV[3])
r.tkt = ARGV[4]
save(KEYS[1], r, now)
return 0
