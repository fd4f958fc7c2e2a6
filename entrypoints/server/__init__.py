"""The server around the app: gunicorn's worker, configuration, life cycle and probe."""
