-- Every request asks for a URL not asked for before (the start time and a counter in the query, so that no two
-- runs share URLs either), so a caching proxy misses and stores each one: the cost of the miss path, store included.
local n = os.time() * 1000000
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?n=" .. n)
end
