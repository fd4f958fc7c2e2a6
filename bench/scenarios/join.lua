-- PUT an employee into the team it is already in: the idempotent join.
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

dofile(os.getenv("BENCH_SCENARIOS_DIR") .. "/statuses.lua")
