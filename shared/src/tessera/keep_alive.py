"""How long an idle HTTP connection between Tessera's processes stays open, on each side.

A service closes an idle connection after `SERVER_KEEP_ALIVE_SECONDS`. A client that pools
connections to it (the dev gateway; orders' token exchange, a resource server's JWKS fetch and
revocation watch, a service's client-credentials token) drops its idle ones after half that:
with the same timeout on both sides, a request now and then went down a connection the server
was closing at that moment, and failed with a transport error (a 502 at the gateway).
docs/adr/0017-clients-drop-idle-connections-first.md; tests/test_keep_alive_rule.py holds every
pooled client to `client_limits()`.
"""

from __future__ import annotations

import httpx

SERVER_KEEP_ALIVE_SECONDS = 5
CLIENT_KEEP_ALIVE_SECONDS = SERVER_KEEP_ALIVE_SECONDS / 2


def client_limits() -> httpx.Limits:
    """httpx's pool limits for a client of a Tessera service (its defaults, idle time aside)."""
    return httpx.Limits(keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS)
