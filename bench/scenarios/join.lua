-- PUT an employee into the team it is already in: the idempotent join.
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
