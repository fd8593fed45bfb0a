"""Strict base64url (RFC 7515 §2: no padding, canonical) for JWS segments and JWK numbers."""

from __future__ import annotations

import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = ("", "", "==", "=")


def decode_segment(segment: str) -> bytes:
    """Decode unpadded, canonical base64url; raise ValueError on anything else.

    Canonical means the encoding this function would produce: no `=`, no characters outside the
    URL-safe alphabet, no length of 4n+1, and zero bits in the unused tail of the last character
    (so exactly one string encodes each byte sequence).
    """
    if _ALPHABET.fullmatch(segment) is None:
        raise ValueError("not base64url")
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("impossible base64url length")
    try:
        decoded = binascii.a2b_base64(
            (segment + _PADDING[remainder]).encode().translate(_TO_STANDARD)
        )
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    # The unused low bits of the last character must be zero (2 chars -> 4 bits, 3 -> 2 bits).
    if remainder and _tail_bits(segment[-1], remainder):
        raise ValueError("non-canonical base64url")
    return decoded


_VALUES = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


def _tail_bits(last: str, remainder: int) -> int:
    return _VALUES[last] & (0b1111 if remainder == 2 else 0b11)
