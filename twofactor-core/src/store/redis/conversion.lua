-- conversion: a country's figures in the window.
-- KEYS: the country's send log, its verified log. ARGV: clock, window_ms.
-- Reply: {sends, verified}.
local sends, verified = figures(KEYS[1], KEYS[2], tonumber(ARGV[2]), clock(ARGV[1]))
return { sends, verified }
