"""peewee-migrate migration files (NNN_name.py), applied by `employee-api migrate`."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
