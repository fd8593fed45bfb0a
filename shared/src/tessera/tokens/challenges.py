"""`WWW-Authenticate` challenges for bearer tokens (RFC 6750 §3), as header values.

HTTP answers send them as the header; gRPC answers send the same value in the trailing metadata
`www-authenticate`, so a client (or orders relaying billing's answer) reads one format.

    >>> bearer_challenge("invalid_token", error_description="The token has expired")
    'Bearer error="invalid_token", error_description="The token has expired"'
    >>> parse_challenge('Bearer error="insufficient_user_authentication", max_age="300"')
    {'error': 'insufficient_user_authentication', 'max_age': '300'}
"""

from __future__ import annotations

import re

_UNSAFE_IN_QUOTED = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)=(?:"([^"]*)"|([^\s,"]+))')


def bearer_challenge(error: str | None = None, **params: str) -> str:
    """An RFC 6750 `WWW-Authenticate` value; quoted values are restricted to safe characters."""
    if error is None:
        return "Bearer"
    items = [("error", error), *params.items()]
    return "Bearer " + ", ".join(
        f'{name}="{_UNSAFE_IN_QUOTED.sub("", value)}"' for name, value in items
    )


def parse_challenge(value: str) -> dict[str, str]:
    """The parameters of a `Bearer` challenge (quoted or token values; no escapes, which
    `bearer_challenge` never writes); {} for another scheme."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {name: quoted or token for name, quoted, token in _PARAM.findall(params)}
