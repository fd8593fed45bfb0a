"""Persistence (SQLAlchemy) and the gRPC client of billing."""
