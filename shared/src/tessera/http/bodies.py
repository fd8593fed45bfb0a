"""Reading request bodies that FastAPI does not parse for us, without a 500 for any input.

A body of 100,000 `[` makes `json.loads` raise RecursionError, not ValueError; bytes that are
not UTF-8 raise UnicodeDecodeError. `decode_json` turns every way a body can be malformed into
one `ValueError`, so a handler answers 400 (or its RFC 6749 `invalid_request`) and logs nothing.
"""

from __future__ import annotations

import json
from typing import Any


def decode_json(raw: bytes) -> Any:
    """The JSON value in `raw`; ValueError for anything that is not well-formed JSON."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError("the body is not well-formed JSON") from exc
