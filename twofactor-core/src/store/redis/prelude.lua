-- Shared by every script of the Redis store (prepended to each one when it is loaded).
--
-- Time: every script's ARGV[1] says which clock to use. 'server' (the default store option):
-- the Redis server's own clock (TIME), so that app instances whose clocks disagree cannot
-- shorten a lock or a cooldown; anything else is the caller's Unix milliseconds (tests with a
-- simulated clock). Deadlines are absolute in that clock; callers pass durations, never their
-- own deadlines. A key's TTL is its last deadline minus `now`, so Redis only forgets what no
-- rule needs any more (correctness never rests on a TTL: every rule compares deadlines with
-- `now`).
--
-- Numbers leave Lua through int(): tostring() would print 1.7e+12 for a millisecond time.
-- Pending ids stay strings: they are 64-bit and a Lua number (a double) is not.
--
-- No script deletes a key and writes it again: while its slot migrates, Redis Cluster refuses
-- (mid-script) a write to a key the node no longer has, and the delete would stand alone.

local function int(x)
  return string.format('%.0f', x)
end

local function num(v)
  return tonumber(v) or 0
end

local function clock(arg)
  if arg == 'server' then
    -- Redis 5 and 6 replicate scripts by their effects only when told (7 always does); TIME
    -- is called before any write.
    if redis.replicate_commands then redis.replicate_commands() end
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return tonumber(arg)
end

-- The phone record: one hash. pid/pexp/tkt: the live code (id, expiry, ticket);
-- att/attu: attempts so far and until when they are remembered; lock: locked until.
local function load(key)
  local f = redis.call('HMGET', key, 'pid', 'pexp', 'tkt', 'att', 'attu', 'lock')
  return {
    pid = f[1],
    pexp = num(f[2]),
    tkt = f[3],
    att = num(f[4]),
    attu = num(f[5]),
    lock = num(f[6]),
  }
end

local function drop_code(r)
  r.pid = false
  r.tkt = false
  r.pexp = 0
end

-- Drops what has aged out at `now` (as MokaStore's settle does). True if anything changed.
local function settle(r, now)
  local changed = false
  if r.pid and r.pexp <= now then
    drop_code(r)
    changed = true
  end
  if r.lock ~= 0 and r.lock <= now then
    -- A lock that ran out gives a fresh budget.
    r.lock = 0
    r.att = 0
    changed = true
  end
  if r.att ~= 0 and r.attu <= now then
    r.att = 0
    changed = true
  end
  return changed
end

-- Writes the settled record back with a TTL until its last deadline, or deletes it.
local function save(key, r, now)
  settle(r, now)
  local last = r.lock
  local fields = {}
  if r.pid then
    if r.pexp > last then last = r.pexp end
    table.insert(fields, 'pid'); table.insert(fields, r.pid)
    table.insert(fields, 'pexp'); table.insert(fields, int(r.pexp))
    table.insert(fields, 'tkt'); table.insert(fields, r.tkt or '')
  end
  if r.att ~= 0 then
    if r.attu > last then last = r.attu end
    table.insert(fields, 'att'); table.insert(fields, int(r.att))
    table.insert(fields, 'attu'); table.insert(fields, int(r.attu))
  end
  if r.lock ~= 0 then
    table.insert(fields, 'lock'); table.insert(fields, int(r.lock))
  end
  if last > now and #fields > 0 then
    -- Overwrite in place, then drop the fields that no longer apply (never DEL, then HSET).
    redis.call('HSET', key, unpack(fields))
    local gone = {}
    if not r.pid then
      table.insert(gone, 'pid'); table.insert(gone, 'pexp'); table.insert(gone, 'tkt')
    end
    if r.att == 0 then
      table.insert(gone, 'att'); table.insert(gone, 'attu')
    end
    if r.lock == 0 then
      table.insert(gone, 'lock')
    end
    if #gone > 0 then
      redis.call('HDEL', key, unpack(gone))
    end
    redis.call('PEXPIRE', key, int(last - now))
  else
    redis.call('DEL', key)
  end
end

-- Drops the sends of a log (a sorted set scored by send time) that left the window, and
-- returns the milliseconds until the cap admits one more (0: it admits one now), as
-- window_wait in store/mod.rs does.
local function window_wait(key, cap, window, now)
  -- Counted, not trimmed, on the way to a send: trimming could empty (delete) the log that
  -- log_send then writes. log_send trims after adding.
  local n = redis.call('ZCOUNT', key, '(' .. int(now - window), '+inf')
  if n < cap then
    return 0
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
  if cap < 1 then
    return math.max(window, 1)
  end
  -- The oldest send that must age out before the count drops below the cap.
  local gate = redis.call('ZRANGE', key, n - cap, n - cap, 'WITHSCORES')
  return math.max(tonumber(gate[2]) + window - now, 1)
end

-- Records a send in a log and keeps the log until its newest send leaves the window.
local function log_send(key, member, window, now)
  redis.call('ZADD', key, int(now), member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local keep = tonumber(newest[2]) + window - now
  if keep < 1 then keep = 1 end
  redis.call('PEXPIRE', key, int(keep))
end

-- A country's conversion figures in its window: the sends let through and the verifications
-- (two logs like the ones above; counted, not trimmed: log_send trims).
local function figures(sends, verified, window, now)
  local from = '(' .. int(now - window)
  return redis.call('ZCOUNT', sends, from, '+inf'), redis.call('ZCOUNT', verified, from, '+inf')
end

-- A client address's verify budget: a hash of counts by sub-bucket index, 60 sub-buckets to
-- the window (store/mod.rs, Buckets). Counts this verify and returns 0, or returns the
-- milliseconds until the fewest oldest buckets that must leave have left.
local BUCKETS = 60
local function verify_budget(key, budget, window, now)
  local bucket = math.max(math.ceil(window / BUCKETS), 1)
  local current = math.floor(now / bucket)
  local f = redis.call('HGETALL', key)
  local live, dead, total = {}, {}, 0
  for i = 1, #f, 2 do
    local b, n = tonumber(f[i]), tonumber(f[i + 1])
    if b + BUCKETS > current then
      table.insert(live, { b, n })
      total = total + n
    else
      table.insert(dead, f[i])
    end
  end
  if total >= budget then
    if #dead > 0 then
      redis.call('HDEL', key, unpack(dead))
    end
    table.sort(live, function(x, y) return x[1] < y[1] end)
    local excess, dropped = total + 1 - budget, 0
    for _, e in ipairs(live) do
      dropped = dropped + e[2]
      if dropped >= excess then
        return math.max((e[1] + BUCKETS) * bucket - now, 1)
      end
    end
    return math.max(window, 1)
  end
  -- Count first, then drop the old buckets: the hash is never emptied and written again.
  redis.call('HINCRBY', key, int(current), 1)
  if #dead > 0 then
    redis.call('HDEL', key, unpack(dead))
  end
  redis.call('PEXPIRE', key, int((current + BUCKETS) * bucket - now))
  return 0
end

-- Reply codes shared with redis.rs.
local GRANTED, REFUSED = 0, 1
local LOCKED, COOLDOWN, PHONE, IP, RANGE, CHANNEL, COUNTRY, GLOBAL = 1, 2, 3, 4, 5, 6, 7, 8
