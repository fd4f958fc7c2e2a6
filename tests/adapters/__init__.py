"""The adapters against the real PostgreSQL and Redis: concurrency,
migrations, outages, round trips."""
