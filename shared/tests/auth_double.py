"""A small real HTTP server speaking auth's contracts, for the client-side unit tests.

It serves the token endpoint (client_credentials and RFC 8693 token exchange, HTTP Basic client
authentication, RFC 6749 errors) and the revocation feed (list + long-poll watch, cursors, 410
for pruned cursors) exactly as DESIGN §4 and §6 describe, over uvicorn on 127.0.0.1:0. The real
auth service is exercised by the root e2e tests; this double lets the clients' own behaviour
(caching, single flight, resume, back-off) be tested fast and deterministically.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote_plus

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


class AuthDouble:
    """Auth's token endpoint and revocation feed, in memory, with knobs for failures."""

    def __init__(self) -> None:
        self.clients = {"orders": "s3cret+/=:"}  # a secret that needs form-encoding in Basic
        self.service_token_lifetime = 300
        self.exchange_lifetime = 120
        self.issue_delay = 0.0
        self.token_requests: list[dict[str, str]] = []
        self.service_tokens: dict[str, frozenset[str]] = {}
        self.exchanged: dict[str, str] = {}  # exchanged token -> subject token
        self.events: list[dict[str, Any]] = []
        self.oldest_cursor = 0  # a watch `after` older than this answers 410
        self.feed_requests: list[tuple[str, dict[str, str]]] = []
        self.feed_down = False
        self._changed = asyncio.Condition()
        self._drop = asyncio.Event()
        self.app = self._build_app()

    # Knobs used by the tests.

    async def publish(self, kind: str, value: str, expires_at: Any, **extra: Any) -> None:
        """Commit one revocation event and wake the watchers."""
        event = {"id": len(self.events) + 1, "kind": kind, "value": value, "expires_at": expires_at}
        event.update(extra)
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-response (a crash, a proxy reset)."""
        self._drop.set()

    def paths_requested(self) -> list[str]:
        return [path for path, _ in self.feed_requests]

    def revoke_service_tokens(self) -> None:
        self.service_tokens.clear()

    # The contract.

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/v1/auth/token", self._token, methods=["POST"])
        app.add_api_route("/v1/revocations", self._list, methods=["GET"])
        app.add_api_route("/v1/revocations/watch", self._watch, methods=["GET"])
        return app

    def _client_of(self, request: Request) -> str | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, secret):
            return None
        return client_id

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        client_id = self._client_of(request)
        if client_id is None:
            return oauth_error(401, "invalid_client", "Client authentication failed")
        if self.issue_delay:
            await asyncio.sleep(self.issue_delay)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            token = f"svc-{secrets.token_hex(8)}"
            self.service_tokens[token] = frozenset(form.get("scope", "").split())
            return self._issued(token, self.service_token_lifetime)
        if grant == EXCHANGE_GRANT:
            if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
                return oauth_error(400, "invalid_request", "Unsupported subject_token_type")
            if form.get("audience") != "billing":
                return oauth_error(400, "invalid_target", "Audience not allowed")
            subject = form.get("subject_token", "")
            if subject.startswith("revoked"):
                return oauth_error(400, "invalid_grant", "The subject token is not valid")
            token = f"xchg-{secrets.token_hex(8)}"
            self.exchanged[token] = subject
            return self._issued(token, self.exchange_lifetime, ACCESS_TOKEN_TYPE)
        return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")

    @staticmethod
    def _issued(token: str, lifetime: int, issued_type: str | None = None) -> JSONResponse:
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        body["expires_in"] = lifetime
        if issued_type is not None:
            body["issued_token_type"] = issued_type
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _feed_refusal(self, request: Request) -> Response | None:
        self.feed_requests.append((request.url.path, dict(request.query_params)))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.service_tokens:
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        if "revocations:read" not in self.service_tokens[token]:
            return JSONResponse({"title": "Forbidden"}, status_code=403)
        if self.feed_down:
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        return None

    def _page(self, after: int) -> dict[str, Any]:
        return {"events": self.events[after:], "cursor": str(len(self.events))}

    async def _list(self, request: Request) -> Response:
        # Every event here counts as still relevant; `oldest_cursor` only limits watch cursors.
        return self._feed_refusal(request) or JSONResponse(self._page(0))

    async def _watch(self, request: Request, after: str, timeout: float = 30) -> Response:
        refusal = self._feed_refusal(request)
        if refusal is not None:
            return refusal
        if int(after) < self.oldest_cursor:
            return JSONResponse({"title": "Gone"}, status_code=410)
        return StreamingResponse(
            self._long_poll(int(after), timeout), media_type="application/json"
        )

    async def _long_poll(self, after: int, timeout: float) -> AsyncIterator[bytes]:
        async def newer_events() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.events) > after)

        waiters = [
            asyncio.ensure_future(newer_events()),
            asyncio.ensure_future(self._drop.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._drop.is_set():
            self._drop.clear()
            raise ConnectionAbortedError("dropped by the test")
        yield bytes(JSONResponse(self._page(after)).body)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Run `app` on a real uvicorn server on 127.0.0.1:<free port>; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
