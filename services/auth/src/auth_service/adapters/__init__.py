"""Storage and secrets: SQLAlchemy models and repositories, key encryption, migrations."""
