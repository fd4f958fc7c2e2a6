"""The HTTP edge (Falcon) and the command line."""
