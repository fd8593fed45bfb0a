"""Who is calling: the client IP (honouring X-Forwarded-For only from trusted proxies) and UA.

Sessions, the audit log and rate limits all key on this IP, so a forged X-Forwarded-For from an
untrusted peer must be ignored: we take the peer address unless the peer is a trusted proxy,
and then the right-most address in X-Forwarded-For that is not itself a trusted proxy.
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi import Request

from auth_service.domain.sessions import RequestContext

MAX_USER_AGENT_LENGTH = 512


def client_ip(request: Request, trusted_proxies: Collection[str]) -> str | None:
    peer = request.client.host if request.client else None
    if peer is None or peer not in trusted_proxies:
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop[:64]
    return peer


def request_context(request: Request, trusted_proxies: Collection[str]) -> RequestContext:
    user_agent = request.headers.get("user-agent")
    return RequestContext(
        ip=client_ip(request, trusted_proxies),
        user_agent=user_agent[:MAX_USER_AGENT_LENGTH] if user_agent else None,
    )
