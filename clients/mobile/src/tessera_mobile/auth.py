"""`TesseraAuth`: the httpx.Auth a native app puts on its HTTP client.

Per request: send the access token as `Authorization: Bearer`; if the token is known to be
expiring (from `expires_in`, with a margin) refresh first; if the server still answers 401 with
`WWW-Authenticate: Bearer error="invalid_token"` (clock skew, a revoked key, a role change)
refresh and retry the request once. A request is refreshed for at most once and retried at most
once, so a server that keeps refusing cannot make the client loop.

Refreshes are serialised inside the client (an asyncio.Lock for AsyncClient, a threading.Lock for
Client): each refresh rotates the refresh token, so two racing refreshes would present the same
token twice. A caller that waited for the lock uses the token the winner just obtained instead of
refreshing again.

The refresh request goes through the same client (it is yielded from the auth flow), so it uses
the app's transport, timeouts and event hooks. The new refresh token is written to the
`TokenStore` before the new access token is used; see `store.py` for why that order matters.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tessera_mobile.errors import NotSignedInError, SessionExpiredError, TokenRefreshError
from tessera_mobile.store import TokenStore

CLIENT_ID = "mobile"

# One RFC 9110 auth-param: name = token / quoted-string (a quoted description may hold commas).
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


@dataclass(frozen=True)
class AccessToken:
    """An access token and when this client should stop using it (clock units)."""

    value: str = ""
    refresh_after: float = 0.0

    def __repr__(self) -> str:  # the token itself is never printed
        return f"AccessToken(refresh_after={self.refresh_after})"


class TesseraAuth(httpx.Auth):
    """Bearer auth with one serialised refresh-and-retry, backed by a `TokenStore`.

    `clock` must be monotonic-like (only differences matter); inject one in tests.
    `refresh_margin_seconds` is how long before the server's expiry the client refreshes
    (capped at half the lifetime, so very short test lifetimes still get used).
    """

    requires_request_body = True  # the body must be replayable for the one retry

    def __init__(
        self,
        *,
        token_url: str,
        store: TokenStore,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_seconds: float = 30.0,
    ) -> None:
        self.token_url = token_url
        self.store = store
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._token: AccessToken | None = None
        self._sync_lock = threading.Lock()
        self._async_lock = asyncio.Lock()

    # -- session state -------------------------------------------------------------------------

    def accept_token_response(self, payload: Mapping[str, Any]) -> None:
        """Take a login or refresh answer: store the refresh token first, then the access token."""
        try:
            access_token = payload["access_token"]
            expires_in = float(payload["expires_in"])
            refresh_token = payload.get("refresh_token")
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenRefreshError("the token answer has no access_token/expires_in") from exc
        if not isinstance(access_token, str) or not access_token:
            raise TokenRefreshError("the token answer has an empty access_token")
        if refresh_token is not None:
            if not isinstance(refresh_token, str):
                raise TokenRefreshError("the token answer has a malformed refresh_token")
            self.store.save(refresh_token)
        margin = min(self._margin, expires_in / 2)
        self._token = AccessToken(access_token, self._clock() + expires_in - margin)

    def forget(self) -> None:
        """End the session locally: drop the access token and clear the store."""
        self._token = None
        self.store.clear()

    @property
    def access_token(self) -> str | None:
        """The current access token (None before the first login or refresh)."""
        return self._token.value if self._token else None

    # -- httpx.Auth ----------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        used, refreshed = self._token, False
        if self._expiring(used):
            with self._sync_lock:
                if self._token is used:  # nobody refreshed while we waited
                    answer = yield self._refresh_request()
                    answer.read()
                    self._accept_refresh_answer(answer)
                    refreshed = True
            used = self._token
        response = yield self._authorized(request, used)
        if refreshed or not _is_invalid_token(response):
            return
        with self._sync_lock:
            if self._token is used:
                answer = yield self._refresh_request()
                answer.read()
                self._accept_refresh_answer(answer)
        yield self._authorized(request, self._token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        used, refreshed = self._token, False
        if self._expiring(used):
            async with self._async_lock:
                if self._token is used:
                    answer = yield self._refresh_request()
                    await answer.aread()
                    self._accept_refresh_answer(answer)
                    refreshed = True
            used = self._token
        response = yield self._authorized(request, used)
        if refreshed or not _is_invalid_token(response):
            return
        async with self._async_lock:
            if self._token is used:
                answer = yield self._refresh_request()
                await answer.aread()
                self._accept_refresh_answer(answer)
        yield self._authorized(request, self._token)

    # -- the steps both flows share ------------------------------------------------------------

    def _expiring(self, token: AccessToken | None) -> bool:
        return token is None or self._clock() >= token.refresh_after

    def _authorized(self, request: httpx.Request, token: AccessToken | None) -> httpx.Request:
        if token is None:  # another caller's refresh just ended the session
            raise NotSignedInError()
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def _refresh_request(self) -> httpx.Request:
        refresh_token = self.store.load()
        if refresh_token is None:
            self._token = None
            raise NotSignedInError()
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": CLIENT_ID,
                "refresh_token": refresh_token,
            },
            headers={"Accept": "application/json"},
        )

    def _accept_refresh_answer(self, answer: httpx.Response) -> None:
        payload = _json_object(answer)
        if answer.status_code == httpx.codes.OK:
            self.accept_token_response(payload)
            return
        error = payload.get("error")
        description = payload.get("error_description")
        if error == "invalid_grant":
            self.forget()
            raise SessionExpiredError(description if isinstance(description, str) else None)
        raise TokenRefreshError(
            f"token refresh failed: {answer.status_code} {error or answer.reason_phrase}"
            + (f": {description}" if isinstance(description, str) else "")
        )


def _is_invalid_token(response: httpx.Response) -> bool:
    """True for RFC 6750's "this token is no good" 401, the one answer a refresh can fix."""
    if response.status_code != httpx.codes.UNAUTHORIZED:
        return False
    scheme, _, params = response.headers.get("WWW-Authenticate", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return any(
        name.lower() == "error" and value.strip('"') == "invalid_token"
        for name, value in _AUTH_PARAM.findall(params)
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
