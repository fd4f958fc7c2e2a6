"""The Falcon resources: one class per kind of route."""
