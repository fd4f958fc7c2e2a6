"""The domain's rules and use cases, on every store."""
