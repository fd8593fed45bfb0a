"""Reading gRPC metadata, which arrives as (key, value) pairs in several shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def metadata_value(metadata: Iterable[tuple[str, Any]] | None, key: str) -> str | None:
    """The first value of `key` (keys are lower-case on the wire), as text, or None."""
    for name, value in metadata or ():
        if name == key:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None
