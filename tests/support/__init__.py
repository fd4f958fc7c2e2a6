"""Helpers every test folder shares: the repository's paths, the real
services, polling, processes, HTTP and Redis clients, clocks."""
