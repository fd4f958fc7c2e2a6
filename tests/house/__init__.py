"""The house rules, third-party private names, and packaging."""
