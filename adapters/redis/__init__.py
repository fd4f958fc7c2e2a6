"""Redis adapters: the shared response cache, the rate limiter, their health."""
