"""peewee adapters for SQLite and PostgreSQL."""
