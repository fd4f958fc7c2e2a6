"""The ways in: the HTTP edge (http/), the gunicorn server around it
(server/), and the command line (cli/)."""
