"""The `employee-api` command line, as an operator uses it."""
