"""Everything the mobile client raises, so an app (or the CLI) can answer each case differently.

MobileClientError                  base; str() is a one-line message fit for a user
 ├── NotSignedInError              no refresh token stored: the user must sign in
 ├── SessionExpiredError           the server refused the refresh token (invalid_grant):
 │                                 the store has been cleared, the user must sign in again
 ├── TokenRefreshError             the token endpoint failed for another reason (5xx,
 │                                 invalid_client, malformed answer); the stored token is kept
 ├── TokenStoreError               the refresh-token file cannot be trusted, read or written
 │    ├── InsecureTokenFileError   the file is readable by others (mode wider than 0600)
 │    └── CorruptTokenFileError    the file does not hold a refresh token: sign in again
 ├── ApiError                      a non-2xx answer from a Tessera API (problem+json parsed)
 │    ├── EmailNotVerifiedError    the password was right, the address is not verified yet:
 │    │                            open the mailed link (or ask for another)
 │    ├── MfaRequiredError         the password was right, the account has two-step sign-in:
 │    │                            ask for the authenticator code, then `login_mfa`
 │    ├── MfaCodeInvalidError      that code (or recovery code) was wrong or already used:
 │    │                            ask again, the same `mfa_token` still works
 │    ├── MfaTokenInvalidError     the `mfa_token` is unknown, used, expired or spent on too many
 │    │                            wrong codes: start the sign-in again (password first)
 │    └── StepUpRequiredError      the operation needs a more recent (or stronger) sign-in
 │                                 (RFC 9470): ask for the password (or, with two-step sign-in,
 │                                 the code), `step_up`, retry once
 ├── ServiceUnreachableError       nothing answers at the base URL (connection refused, DNS)
 └── AnswerLostError               the request went out but no whole answer came back (read
                                   timeout, connection reset, broken HTTP): it may have been
                                   carried out
"""

from __future__ import annotations


class MobileClientError(Exception):
    """Base class; the message is one line a person can act on."""


class NotSignedInError(MobileClientError):
    """Raised when a request needs a session but the store holds no refresh token."""

    def __init__(self) -> None:
        super().__init__("not signed in: sign in first (tessera-mobile login)")


class SessionExpiredError(MobileClientError):
    """Raised when the token endpoint answers invalid_grant; the store is already cleared.

    The session ended on the server: logged out elsewhere, revoked, expired, or the stored token
    was rotated by a refresh whose answer never reached us and the grace window has passed.
    """

    def __init__(self, description: str | None = None) -> None:
        message = "signed out: sign in again"
        if description:
            message = f"{message} ({description})"
        super().__init__(message)
        self.description = description


class TokenRefreshError(MobileClientError):
    """Raised when a refresh fails for a reason that does not end the session."""


class TokenStoreError(MobileClientError):
    """Raised when the refresh-token file cannot be read or written safely."""


class InsecureTokenFileError(TokenStoreError):
    """Raised instead of reading a token file other users could read or write."""


class CorruptTokenFileError(TokenStoreError):
    """Raised when the token file holds something that is not a refresh token (not printable
    ASCII, several lines): a disk or editing accident. The message names the file and never its
    content, which may still be a token; signing in again replaces the file."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"token file {path} is corrupt (it does not hold a refresh token): "
            f"sign in again (tessera-mobile login) to replace it"
        )
        self.path = path


class ApiError(MobileClientError):
    """A Tessera API answered with an error; fields come from its problem+json body."""

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        message = f"{status} {title}" + (f": {detail}" if detail else "")
        super().__init__(message)
        self.status = status
        self.title = title
        self.detail = detail


class EmailNotVerifiedError(ApiError):
    """Raised by a login whose password was right, for an address not verified yet (403
    `email-not-verified`): the app says "open the link we mailed you" and offers a resend."""

    PROBLEM_TYPE = "urn:tessera:problem:email-not-verified"

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        super().__init__(status, title, detail)


class MfaRequiredError(ApiError):
    """Raised by a login whose password was right, for an account with two-step sign-in (401
    `mfa-required`): the app asks for the authenticator code (or a recovery code) and calls
    `TesseraClient.login_mfa(mfa_token, code=...)` within five minutes. `methods` names what the
    server accepts (`"totp"`, `"recovery_code"`). The message never holds the token."""

    PROBLEM_TYPE = "urn:tessera:problem:mfa-required"

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        mfa_token: str,
        methods: tuple[str, ...] = (),
    ) -> None:
        super().__init__(status, title, detail)
        self.mfa_token = mfa_token
        self.methods = methods


class MfaCodeInvalidError(ApiError):
    """Raised by `login_mfa` for a wrong or already used code (401 `mfa-code-invalid`): the
    `mfa_token` stays usable (up to five wrong codes), so the app asks for the code again. A
    code is accepted once: after a refusal wait for the authenticator's next code."""

    PROBLEM_TYPE = "urn:tessera:problem:mfa-code-invalid"


class MfaTokenInvalidError(ApiError):
    """Raised by `login_mfa` when the `mfa_token` no longer works (401 `mfa-token-invalid`:
    unknown, used, older than five minutes, or too many wrong codes): sign in again from the
    password."""

    PROBLEM_TYPE = "urn:tessera:problem:mfa-token-invalid"


class StepUpRequiredError(ApiError):
    """Raised for a 401 `insufficient_user_authentication` (RFC 9470): the token is fine, the
    sign-in behind it is too old (`max_age` seconds) or too weak (`acr_values`) for this
    operation. Refreshing would not help; the app asks the user to confirm (the password, or
    the authenticator code when the account has two-step sign-in or `acr_values` asks for
    `urn:tessera:acr:mfa`), calls `TesseraClient.step_up`, then retries the operation once."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        max_age: int | None = None,
        acr_values: str | None = None,
    ) -> None:
        super().__init__(status, title, detail)
        self.max_age = max_age
        self.acr_values = acr_values


class ServiceUnreachableError(MobileClientError):
    """Raised when no server answers at the configured base URL."""

    def __init__(self, base_url: str) -> None:
        super().__init__(f"cannot reach Tessera at {base_url}: is `make run` running?")
        self.base_url = base_url


class AnswerLostError(MobileClientError):
    """Raised when a request may have reached Tessera but no complete answer came back.

    A read timeout, a reset connection or a malformed HTTP answer says nothing about whether the
    server carried the request out: a write may have happened. Retry reads freely; retry an order
    only with the same Idempotency-Key (`retry_hint` says how, when the caller knows).
    """

    def __init__(self, base_url: str, reason: str, *, retry_hint: str | None = None) -> None:
        message = (
            f"no answer from Tessera at {base_url} ({reason}): "
            "the request may or may not have been carried out"
        )
        super().__init__(f"{message}; {retry_hint}" if retry_hint else message)
        self.base_url = base_url
        self.reason = reason
