-- POST a batch of 1,000 new employees, emails no other request uses.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
local run = os.getenv("BENCH_RUN_ID")
local size = 1000
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local items = {}
  for i = 1, size do
    items[i] = string.format(
      '{"name":"Bench","email":"bb-%s-%d-%d-%d@example.com","department":"D1"}',
      run, tid, counter, i)
  end
  return wrk.format(nil, nil, nil, '{"items":[' .. table.concat(items, ",") .. ']}')
end

dofile(os.getenv("BENCH_SCENARIOS_DIR") .. "/statuses.lua")
