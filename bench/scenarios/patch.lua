-- PATCH one employee's title back and forth: every request changes it.
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/merge-patch+json"
local n = 0

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"title":"t%d"}', n % 2))
end

dofile(os.getenv("BENCH_SCENARIOS_DIR") .. "/statuses.lua")
