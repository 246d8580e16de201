-- release_send (and taking back a half-granted reservation): removes this send's member from
-- each log. The member is the send's own id, so exactly this reservation is taken back.
-- KEYS: send logs of one slot. ARGV: member.
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return 0
