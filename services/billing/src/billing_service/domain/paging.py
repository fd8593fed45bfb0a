"""Opaque page tokens for newest-first invoice lists (keyset paging on created_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from billing_service.errors import InvalidPageTokenError


@dataclass(frozen=True, slots=True)
class PageCursor:
    """The last invoice of a page; the next page starts strictly after it."""

    created_at: datetime
    invoice_id: str


def encode_page_token(cursor: PageCursor) -> str:
    """Opaque to callers (base64url JSON) so the paging scheme can change without breaking them."""
    payload = json.dumps([cursor.created_at.isoformat(), cursor.invoice_id]).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_page_token(token: str) -> PageCursor | None:
    """The cursor in `token`; an empty token means the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, invoice_id = json.loads(raw)
        return PageCursor(datetime.fromisoformat(created_at), str(invoice_id))
    except (binascii.Error, ValueError, TypeError, RecursionError) as error:
        raise InvalidPageTokenError("page_token is not a token from a previous page") from error


def clamp_page_size(requested: int, *, maximum: int, default: int = 20) -> int:
    """0 (unset) means the default; anything above `maximum` is cut down to it."""
    if requested <= 0:
        return min(default, maximum)
    return min(requested, maximum)
