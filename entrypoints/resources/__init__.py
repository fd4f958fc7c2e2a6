"""Falcon resources: responders of a few lines that call domain services."""
