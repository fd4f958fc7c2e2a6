-- POST a new employee with an email no other request uses.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
local run = os.getenv("BENCH_RUN_ID")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"Bench","email":"b-%s-%d-%d@example.com","department":"D1"}',
    run, tid, counter)
  return wrk.format(nil, nil, nil, body)
end

dofile(os.getenv("BENCH_SCENARIOS_DIR") .. "/statuses.lua")
