"""In-memory adapters: real, thread-safe twins of every port, for one process."""
