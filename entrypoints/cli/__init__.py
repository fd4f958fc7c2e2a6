"""The `employee-api` command line."""
