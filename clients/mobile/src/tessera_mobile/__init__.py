"""Tessera mobile reference client: how a native app holds, stores and refreshes its tokens.

`TesseraAuth` (an httpx.Auth) sends the access token and refreshes it; `TokenStore` keeps the
refresh token in a 0600 file; `TesseraClient` wraps the API calls; `format_money` shows an
amount in its currency's units; `tessera-mobile` is the CLI.
"""

from tessera_mobile.auth import TesseraAuth
from tessera_mobile.client import ACR_MFA, TesseraClient, TotpEnrollment
from tessera_mobile.errors import (
    AnswerLostError,
    ApiError,
    CorruptTokenFileError,
    EmailNotVerifiedError,
    InsecureTokenFileError,
    MfaCodeInvalidError,
    MfaRequiredError,
    MfaTokenInvalidError,
    MobileClientError,
    NotSignedInError,
    ServiceUnreachableError,
    SessionExpiredError,
    StepUpRequiredError,
    TokenRefreshError,
    TokenStoreError,
)
from tessera_mobile.money import format_money
from tessera_mobile.store import TokenStore

__all__ = [
    "ACR_MFA",
    "AnswerLostError",
    "ApiError",
    "CorruptTokenFileError",
    "EmailNotVerifiedError",
    "InsecureTokenFileError",
    "MfaCodeInvalidError",
    "MfaRequiredError",
    "MfaTokenInvalidError",
    "MobileClientError",
    "NotSignedInError",
    "ServiceUnreachableError",
    "SessionExpiredError",
    "StepUpRequiredError",
    "TesseraAuth",
    "TesseraClient",
    "TokenRefreshError",
    "TokenStore",
    "TokenStoreError",
    "TotpEnrollment",
    "format_money",
]
