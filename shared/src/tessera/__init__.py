"""Tessera shared library."""
