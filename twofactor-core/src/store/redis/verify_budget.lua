-- begin_attempt's first half on the Cluster-safe path: the client address's verify budget.
-- KEYS: the address's budget. ARGV: clock, verifies per address, window_ms.
-- Reply: 0 counted | milliseconds until the budget frees up.
return verify_budget(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), clock(ARGV[1]))
