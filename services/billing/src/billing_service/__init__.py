"""Tessera billing service."""
