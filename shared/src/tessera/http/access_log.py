"""Request-id and access-log middleware (pure ASGI, so it adds microseconds, not a task).

The middleware reads `X-Request-ID` (or makes one), sets `request_id_var`, echoes the id on the
response, records a latency histogram and writes one JSON access-log line per request with the
caller's `sub` once authentication has named it (`note_subject`).

It is also where an error nothing else handled ends: logged once, with its traceback, and
answered 500 problem+json, so the client's keep-alive connection survives and uvicorn has
nothing left to log (Starlette's own last-resort handler would answer, re-raise, and uvicorn
would log the traceback a second time and drop the connection).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.context import request_id_var
from tessera.http.problems import problem_response
from tessera.metrics import HTTP_REQUEST_DURATION

access_logger = logging.getLogger("tessera.access")
error_logger = logging.getLogger("tessera.errors")
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_request_facts: ContextVar[dict[str, Any] | None] = ContextVar(
    "tessera_request_facts", default=None
)


def note_subject(sub: str) -> None:
    """Let the access log of the current request name its caller."""
    facts = _request_facts.get()
    if facts is not None:
        facts["sub"] = sub


def incoming_request_id(value: str | None) -> str:
    """The caller's request id when it is well-formed, else a fresh one."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Sets the request id, echoes it, measures and logs every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_value: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header_value = value.decode("latin-1")
                break
        request_id = incoming_request_id(header_value)
        request_id_var.set(request_id)
        facts: dict[str, Any] = {}
        _request_facts.set(facts)
        encoded_id = request_id.encode("ascii")
        status = 500
        responded = False
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", encoded_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_logger.exception("Unhandled error")
            if responded:  # half an answer is out: only dropping the connection can say so
                raise
            unexpected = problem_response(
                500, "Internal Server Error", "An unexpected error occurred"
            )
            await unexpected(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUEST_DURATION.labels(scope["method"], template, str(status)).observe(elapsed)
            path = scope["path"]
            level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
            if access_logger.isEnabledFor(level):
                access_logger.log(
                    level,
                    "%s %s %d",
                    scope["method"],
                    path,
                    status,
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": (scope.get("client") or ("",))[0],
                        **facts,
                    },
                )
