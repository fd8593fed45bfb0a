"""Persistence: SQLAlchemy models, the engine and the invoice repository."""
