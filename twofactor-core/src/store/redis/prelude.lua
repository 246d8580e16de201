-- Shared by every script of the Redis store (prepended to each one when it is loaded).
--
-- Times are Unix milliseconds passed in by the engine (ARGV), never Redis TIME: the engine's
-- clock is the only clock, so tests can move time and instances agree with their own records.
-- Deadlines are absolute; a key's TTL is its last deadline minus `now`, so Redis only forgets
-- what no rule needs any more (correctness never rests on a TTL: every rule compares deadlines
-- with `now`).
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

-- Reply codes shared with redis.rs.
local GRANTED, REFUSED = 0, 1
local LOCKED, COOLDOWN, PHONE_HOURLY, IP_HOURLY, GLOBAL_HOURLY = 1, 2, 3, 4, 5
