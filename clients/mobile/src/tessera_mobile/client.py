"""`TesseraClient`: the calls a mobile app makes, over one httpx.AsyncClient with `TesseraAuth`.

Sign-in and registration go out without a bearer token; everything else goes through the auth,
which refreshes when needed. Errors arrive as the exceptions in `errors.py`: a problem+json answer
becomes `ApiError`, a refused connection `ServiceUnreachableError`, a request whose answer never
came back whole (read timeout, reset, broken HTTP) `AnswerLostError`, an ended session
`SessionExpiredError` (with the store already cleared). The client never retries on its own.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from tessera_mobile.auth import CLIENT_ID, TesseraAuth
from tessera_mobile.errors import (
    AnswerLostError,
    ApiError,
    EmailNotVerifiedError,
    MfaCodeInvalidError,
    MfaRequiredError,
    MfaTokenInvalidError,
    MobileClientError,
    NotSignedInError,
    ServiceUnreachableError,
    SessionExpiredError,
    StepUpRequiredError,
)
from tessera_mobile.store import TokenStore

USER_AGENT = "tessera-mobile/0.1"
IDLE_CONNECTION_SECONDS = 2.0
"""How long an idle connection waits for the app's next request: less than the 5 s after which
Tessera's gateway and services close it, so no request goes down a connection the server is
closing at that moment (httpx's default is 5 s too: a race that surfaces as a transport error)."""

# What orders accepts as an Idempotency-Key (services/orders api/orders.py): 1-255 visible ASCII.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

ACR_MFA = "urn:tessera:acr:mfa"
"""The `acr` of a sign-in with a second factor; a challenge whose `acr_values` names it wants a
code, never a password."""


@dataclass(frozen=True)
class TotpEnrollment:
    """A pending authenticator secret (`enable_totp`): show `otpauth_uri` as a QR code (or
    `qr_svg`, the server's rendering of it) and `secret` for typing in; nothing is on until
    `confirm_totp` with a code the authenticator shows. Never log it: it is the second factor."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)
    qr_svg: str | None = field(default=None, repr=False)


class TesseraClient:
    """One signed-in (or signed-out) device talking to a Tessera deployment at `base_url`.

    >>> async with TesseraClient(base_url="http://localhost:8000", store=store) as client:
    ...     await client.login("ada@example.com", password)
    ...     orders = await client.list_orders()
    """

    def __init__(
        self,
        *,
        base_url: str,
        store: TokenStore,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = TesseraAuth(
            token_url=f"{self.base_url}/v1/auth/token", store=store, clock=clock
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            auth=self.auth,
            timeout=timeout_seconds,
            limits=httpx.Limits(keepalive_expiry=IDLE_CONNECTION_SECONDS),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    async def __aenter__(self) -> TesseraClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- account and session -------------------------------------------------------------------

    async def register(self, email: str, password: str) -> dict[str, Any]:
        """Ask for an account (does not sign in): `{"email", "status": "verification_sent"}`,
        the same whether the address was new or taken; the mail says which to its owner."""
        body = {"email": email, "password": password}
        return await self._json("POST", "/v1/users", json=body, signed_in=False)

    async def verify_email(self, token: str) -> None:
        """Use the token of the verification mail's link (an app opens it as a deep link)."""
        await self._request(
            "POST", "/v1/users/verify-email", json={"token": token}, signed_in=False
        )

    async def resend_verification(self, email: str) -> None:
        """Another verification mail, if the address has an unverified account."""
        await self._request(
            "POST", "/v1/users/verify-email/resend", json={"email": email}, signed_in=False
        )

    async def request_password_reset(self, email: str) -> None:
        """A reset link by mail, if the address has an account (the answer never says)."""
        await self._request(
            "POST", "/v1/auth/password-reset", json={"email": email}, signed_in=False
        )

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        """Set a new password with the reset mail's token; every session ends, this device's
        too (its stored refresh token is forgotten): sign in again with the new password."""
        body = {"token": token, "new_password": new_password}
        await self._request("POST", "/v1/auth/password-reset/confirm", json=body, signed_in=False)
        self.auth.forget()

    async def login(self, email: str, password: str) -> None:
        """Sign in as the mobile client; the refresh token is stored before this returns.

        An account with two-step sign-in raises `MfaRequiredError` instead (nothing is stored):
        ask for the authenticator code and finish with `login_mfa(error.mfa_token, code=...)`.
        """
        body = {"email": email, "password": password, "client_id": CLIENT_ID}
        payload = await self._json("POST", "/v1/auth/login", json=body, signed_in=False)
        self.auth.accept_token_response(payload)

    async def login_mfa(
        self, mfa_token: str, *, code: str | None = None, recovery_code: str | None = None
    ) -> None:
        """Finish a sign-in that raised `MfaRequiredError` with exactly one of the authenticator's
        `code` or a `recovery_code` (each works once); the refresh token is stored before this
        returns, exactly as `login` does. A wrong or used code raises `MfaCodeInvalidError` (ask
        again, the same `mfa_token`); a dead `mfa_token` `MfaTokenInvalidError` (start over)."""
        body: dict[str, str] = {"mfa_token": mfa_token, "client_id": CLIENT_ID}
        body.update(_one_factor(code=code, recovery_code=recovery_code))
        payload = await self._json("POST", "/v1/auth/login/mfa", json=body, signed_in=False)
        self.auth.accept_token_response(payload)

    async def logout(self) -> None:
        """End this session on the server, then forget it locally (even if the server call fails).

        The refresh token goes in the body so the server revokes exactly this family. A session
        the server already ended (or none at all) counts as logged out.
        """
        try:
            refresh_token = self.auth.store.load()
            body = {"refresh_token": refresh_token} if refresh_token else {}
            await self._request("POST", "/v1/auth/logout", json=body)
        except (SessionExpiredError, NotSignedInError):
            return
        finally:
            self.auth.forget()

    async def logout_all(self) -> None:
        """End every session of this user (all devices), then forget this one locally."""
        try:
            await self._request("POST", "/v1/auth/logout-all")
        finally:
            self.auth.forget()

    async def me(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/users/me")

    async def list_sessions(self) -> list[dict[str, Any]]:
        return await self._items("/v1/sessions")

    async def revoke_session(self, session_id: str) -> None:
        await self._request("DELETE", f"/v1/sessions/{session_id}")

    async def step_up(
        self,
        password: str | None = None,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> None:
        """Authenticate again in this session (after a `StepUpRequiredError`) with exactly one of
        the password, the authenticator's `code` or a `recovery_code`: the session's sign-in time
        becomes now, and the fresh access token says so. With two-step sign-in on, only a code
        counts (a password is refused, 403); without it, only the password."""
        body = _one_factor(password=password, code=code, recovery_code=recovery_code)
        payload = await self._json("POST", "/v1/auth/step-up", json=body)
        self.auth.accept_token_response(payload)

    # -- two-step sign-in (TOTP) ---------------------------------------------------------------

    async def mfa_status(self) -> dict[str, Any]:
        """`{"totp": "off" | "pending" | "on", "recovery_codes_left": int}`."""
        return await self._json("GET", "/v1/users/me/mfa")

    async def enable_totp(self) -> TotpEnrollment:
        """Start enrolling an authenticator (it replaces a pending one): needs a sign-in within
        five minutes (else `StepUpRequiredError`), a verified address, and TOTP off (409)."""
        payload = await self._json("POST", "/v1/users/me/mfa/totp")
        secret, uri, svg = payload.get("secret"), payload.get("otpauth_uri"), payload.get("qr_svg")
        if not isinstance(secret, str) or not isinstance(uri, str):
            raise MobileClientError("unexpected answer from enabling TOTP: no secret")
        return TotpEnrollment(secret, uri, svg if isinstance(svg, str) else None)

    async def confirm_totp(self, code: str) -> list[str]:
        """Turn TOTP on with a code from the newly enrolled authenticator; returns the recovery
        codes (show them once, each works once). The session now counts as signed in with two
        factors, and the access token that says so replaces the current one. A wrong code is a
        403 (`ApiError`), nothing pending a 409."""
        payload = await self._json("POST", "/v1/users/me/mfa/totp/confirm", json={"code": code})
        codes = _recovery_codes(payload)
        self.auth.accept_token_response(payload)
        return codes

    async def regenerate_recovery_codes(self) -> list[str]:
        """Ten new recovery codes; the old ones stop working. Needs a sign-in with a code within
        five minutes (`StepUpRequiredError` with `acr_values` naming `ACR_MFA`)."""
        return _recovery_codes(await self._json("POST", "/v1/users/me/mfa/recovery-codes"))

    async def disable_totp(self) -> None:
        """Turn TOTP off (recovery codes too); the same step-up as `regenerate_recovery_codes`.
        404 when nothing is enrolled."""
        await self._request("DELETE", "/v1/users/me/mfa/totp")

    # -- orders and invoices -------------------------------------------------------------------

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel an order (a paid one is refunded): may raise `StepUpRequiredError`."""
        return await self._json("POST", f"/v1/orders/{order_id}/cancel")

    async def list_orders(self) -> list[dict[str, Any]]:
        return await self._items("/v1/orders")

    async def create_order(
        self,
        *,
        sku: str,
        quantity: int,
        unit_price_cents: int,
        currency: str,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Place an order, sent with `idempotency_key` (a fresh UUID when None).

        To retry an order whose answer was lost (`AnswerLostError`, a gateway's 502), call again
        with the same key and the same item: orders answers with the first order instead of
        placing a second (the same key with another item is refused, 422). A call without a key
        is always a new order.

        >>> key = str(uuid.uuid4())  # chosen once per order the user places, kept until it answers
        >>> order = await client.create_order(sku="MUG", quantity=1, unit_price_cents=900,
        ...                                   currency="EUR", idempotency_key=key)
        """
        if idempotency_key is None:
            idempotency_key = str(uuid.uuid4())
        elif not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise MobileClientError(
                "an idempotency key is 1 to 255 visible ASCII characters (no spaces)"
            )
        body = {
            "items": [{"sku": sku, "quantity": quantity, "unit_price_cents": unit_price_cents}],
            "currency": currency,
        }
        headers = {"Idempotency-Key": idempotency_key}
        return await self._json("POST", "/v1/orders", json=body, headers=headers)

    async def list_invoices(self) -> list[dict[str, Any]]:
        return await self._items("/v1/invoices")

    # -- transport -----------------------------------------------------------------------------

    async def _items(self, path: str) -> list[dict[str, Any]]:
        payload = await self._json("GET", path)
        items = payload.get("items")
        if not isinstance(items, list):
            raise MobileClientError(f"unexpected answer from {path}: no items list")
        return items

    async def _json(
        self, method: str, path: str, *, signed_in: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        response = await self._request(method, path, signed_in=signed_in, **kwargs)
        try:
            payload = response.json()
        except ValueError as exc:
            raise MobileClientError(f"unexpected non-JSON answer from {path}") from exc
        if not isinstance(payload, dict):
            raise MobileClientError(f"unexpected answer from {path}: not a JSON object")
        return payload

    async def _request(
        self, method: str, path: str, *, signed_in: bool = True, **kwargs: Any
    ) -> httpx.Response:
        if not signed_in:
            kwargs["auth"] = None  # no bearer, no refresh: this call is how a session starts
        try:
            response = await self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServiceUnreachableError(self.base_url) from exc
        except httpx.UnsupportedProtocol as exc:
            raise MobileClientError(
                f"cannot use {self.base_url} as Tessera's URL: it must start with http(s)://"
            ) from exc
        except httpx.RequestError as exc:  # sent, or partly: the server may have acted on it
            raise AnswerLostError(self.base_url, _lost_answer_reason(exc)) from exc
        if response.is_success:
            return response
        raise _api_error(response)


def _lost_answer_reason(exc: httpx.RequestError) -> str:
    """Name what went wrong by its kind; httpx's own text may quote what the server sent."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.NetworkError):
        return "connection lost"
    if isinstance(exc, httpx.ProtocolError | httpx.DecodingError):
        return "malformed HTTP answer"
    return type(exc).__name__


def _api_error(response: httpx.Response) -> ApiError:
    """Read RFC 9457 problem+json (or RFC 6749 error JSON) into one exception."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return ApiError(response.status_code, response.reason_phrase)
    title = payload.get("title") or payload.get("error") or response.reason_phrase
    detail = payload.get("detail") or payload.get("error_description")
    if isinstance(detail, list):  # FastAPI-style validation errors: name the fields
        detail = "; ".join(_field_error(item) for item in detail)
    detail_text = str(detail) if detail else None
    challenge = _challenge(response.headers.get("WWW-Authenticate", ""))
    if response.status_code == 401 and challenge.get("error") == "insufficient_user_authentication":
        max_age = challenge.get("max_age", "")
        return StepUpRequiredError(
            401,
            str(title),
            detail_text,
            max_age=int(max_age) if max_age.isdigit() else None,
            acr_values=challenge.get("acr_values"),
        )
    problem = _problem_name(payload.get("type"))
    if problem == _problem_name(MfaRequiredError.PROBLEM_TYPE):
        mfa_token, methods = payload.get("mfa_token"), payload.get("methods")
        if isinstance(mfa_token, str) and mfa_token:
            return MfaRequiredError(
                response.status_code,
                str(title),
                detail_text,
                mfa_token=mfa_token,
                methods=tuple(str(m) for m in methods) if isinstance(methods, list) else (),
            )
    kinds = {
        _problem_name(kind.PROBLEM_TYPE): kind
        for kind in (EmailNotVerifiedError, MfaCodeInvalidError, MfaTokenInvalidError)
    }
    return kinds.get(problem, ApiError)(response.status_code, str(title), detail_text)


def _problem_name(problem_type: object) -> str:
    """The last segment of a problem `type` (`urn:tessera:problem:mfa-required` and
    `https://…/problems/mfa-required` both name `mfa-required`); "" when there is none."""
    if not isinstance(problem_type, str):
        return ""
    return re.split(r"[:/]", problem_type.rstrip("/"))[-1]


def _one_factor(**factors: str | None) -> dict[str, str]:
    """The one factor given, as the body's only credential (the server takes exactly one)."""
    given = [(name, value) for name, value in factors.items() if value is not None]
    if len(given) != 1:
        raise MobileClientError(f"give exactly one of: {', '.join(factors)}")
    [(name, value)] = given
    if not value:
        raise MobileClientError(f"the {name.replace('_', ' ')} is empty")
    return {name: value}


def _recovery_codes(payload: dict[str, Any]) -> list[str]:
    codes = payload.get("recovery_codes")
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise MobileClientError("unexpected answer: no recovery codes")
    return codes


_CHALLENGE_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)=(?:"([^"]*)"|([^\s,"]+))')


def _challenge(value: str) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer …` challenge ({} for another scheme)."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {name: quoted or token for name, quoted, token in _CHALLENGE_PARAM.findall(params)}


def _field_error(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", []) if part != "body")
    return f"{location}: {item.get('msg', 'invalid')}" if location else str(item.get("msg"))
