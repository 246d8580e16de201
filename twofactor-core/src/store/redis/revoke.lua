-- revoke: appends a revocation to the stream, after forgetting (up to 1000) expired ones.
-- KEYS: the stream, its expiry index (a sorted set of stream ids by expiry; one slot).
-- ARGV: clock, lifetime_ms (0: already expired, not kept), kind ('t' token, 'p' phone),
-- a (token id in hex, or the phone's digits), b (before_ms for a phone, else ''),
-- x (the expiry as the caller gave it, returned verbatim).
-- Stream ids grow with every append (XADD '*', the server's clock), so a reader that keeps
-- the last id it read misses nothing appended later, whichever instance appends it.
-- XADD '*' is not deterministic: Redis 5 and 6 need effects replication for it (7 always).
if redis.replicate_commands then redis.replicate_commands() end
local now = clock(ARGV[1])
local life = tonumber(ARGV[2])
if life > 0 then
  local expires = now + life
  local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[3], 'a', ARGV[4], 'b', ARGV[5],
    'x', ARGV[6], 'sx', int(expires))
  redis.call('ZADD', KEYS[2], int(expires), id)
end
-- Forget after adding, so that the index is never emptied and written again in one run.
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', int(now), 'LIMIT', 0, 1000)
if #dead > 0 then
  redis.call('XDEL', KEYS[1], unpack(dead))
  redis.call('ZREM', KEYS[2], unpack(dead))
end
-- Both keys live until the last revocation expires.
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local keep = int(math.max(tonumber(last[2]) - now, 1))
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', KEYS[2], keep)
end
return 0
