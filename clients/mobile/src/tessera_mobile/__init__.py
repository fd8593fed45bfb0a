"""Tessera mobile reference client: how a native app holds, stores and refreshes its tokens.

`TesseraAuth` (an httpx.Auth) sends the access token and refreshes it; `TokenStore` keeps the
refresh token in a 0600 file; `TesseraClient` wraps the API calls; `tessera-mobile` is the CLI.
"""

from tessera_mobile.auth import TesseraAuth
from tessera_mobile.client import TesseraClient
from tessera_mobile.errors import (
    AnswerLostError,
    ApiError,
    CorruptTokenFileError,
    InsecureTokenFileError,
    MobileClientError,
    NotSignedInError,
    ServiceUnreachableError,
    SessionExpiredError,
    TokenRefreshError,
    TokenStoreError,
)
from tessera_mobile.store import TokenStore

__all__ = [
    "AnswerLostError",
    "ApiError",
    "CorruptTokenFileError",
    "InsecureTokenFileError",
    "MobileClientError",
    "NotSignedInError",
    "ServiceUnreachableError",
    "SessionExpiredError",
    "TesseraAuth",
    "TesseraClient",
    "TokenRefreshError",
    "TokenStore",
    "TokenStoreError",
]
