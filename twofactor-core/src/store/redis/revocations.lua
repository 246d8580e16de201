-- revocations: up to COUNT stream entries after the cursor, and those of them not expired.
-- KEYS: the stream. ARGV: clock, cursor (a stream id; '' from the start), count.
-- Reply: {last id read ('' if none), entries read, {{kind, a, b, x}, ...}}.
local now = clock(ARGV[1])
local from = '-'
if ARGV[2] ~= '' then
  from = '(' .. ARGV[2]
end
local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', tonumber(ARGV[3]))
local last, out = ARGV[2], {}
for _, e in ipairs(entries) do
  last = e[1]
  local f, m = e[2], {}
  for i = 1, #f, 2 do
    m[f[i]] = f[i + 1]
  end
  if (tonumber(m.sx) or 0) > now then
    table.insert(out, { m.k or '', m.a or '', m.b or '', m.x or '' })
  end
end
return { last, #entries, out }
