"""gunicorn as the service runs it: its configuration and the buffering worker."""
