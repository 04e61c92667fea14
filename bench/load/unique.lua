-- Every request asks for a URL not asked for before (the start time and a counter in the query, so that no two
-- runs share URLs either), so a caching proxy misses and stores each one: the cost of the miss path, store included.
-- The two stay separate numbers: one large number would be printed in exponent form, losing its last digits.
local started = os.time()
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?t=" .. started .. "&n=" .. n)
end
