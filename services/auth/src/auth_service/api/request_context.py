"""Where a request came from, as sessions, the audit log and rate limits record it.

The caller's IP is `request.client`, which `tessera.http.forwarded` has already set from
X-Forwarded-For when, and only when, the peer is a trusted proxy; the user agent is cut to
what the tables hold.
"""

from __future__ import annotations

from fastapi import Request

from auth_service.domain.sessions import RequestContext

MAX_USER_AGENT_LENGTH = 512


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_context(request: Request) -> RequestContext:
    user_agent = request.headers.get("user-agent")
    return RequestContext(
        ip=client_ip(request),
        user_agent=user_agent[:MAX_USER_AGENT_LENGTH] if user_agent else None,
    )
