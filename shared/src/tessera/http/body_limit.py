"""BodyLimitMiddleware: refuse a request body over the service's limit with 413, before parsing.

A declared `Content-Length` over the limit is refused without reading a byte; a chunked body is
counted as it arrives and refused the moment it passes the limit, so nothing past the limit is
ever buffered, parsed or validated. The answer is RFC 9457 problem+json, like every error.

    app.add_middleware(BodyLimitMiddleware, max_bytes=64 * 1024)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.http.problems import problem_response


class BodyTooLargeError(HTTPException):
    """Raised by the counting `receive` when a streamed body passes the limit.

    An HTTPException, so the framework reading the body answers it as the 413 it is (FastAPI
    turns any other error while reading a body into a 400).
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # uvicorn refuses a malformed Content-Length before we see it
    return None


class BodyLimitMiddleware:
    """413 for a body of more than `max_bytes` (pure ASGI: no task, no buffering)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        responded = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, counting_receive, noting_send)
        except BodyTooLargeError:
            if responded:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body is larger than {self.max_bytes} bytes"
        response = problem_response(
            413, "Content Too Large", detail, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
