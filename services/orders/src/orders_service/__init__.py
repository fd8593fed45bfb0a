"""Tessera orders service."""
