"""Tessera mobile reference client."""
