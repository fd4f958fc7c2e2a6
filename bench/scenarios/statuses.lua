-- Counts the answers that were not 2xx by status and problem, and prints
-- them to standard error at the end (bench/run.py reports them). Loaded at
-- the end of a write scenario: it wraps that scenario's setup, if any.
local threads = {}
local scenario_setup = setup

function setup(thread)
  if scenario_setup then scenario_setup(thread) end
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  if status >= 300 then
    local key = tostring(status) .. " " .. string.sub(body, 1, 200)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      io.stderr:write(string.format("status\t%d\t%s\n", count, key))
    end
  end
end
