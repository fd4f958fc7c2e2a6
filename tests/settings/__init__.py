"""Configuration: every variable read once and checked at start."""
