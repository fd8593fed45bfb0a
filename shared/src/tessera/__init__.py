"""Tessera shared library: what every resource service needs to authenticate its callers.

- `TokenVerifier` verifies access tokens (DESIGN §2) with keys from a `KeySource` such as the
  `JwksCache`, and returns a `Principal`.
- `install_service_defaults`, `CurrentPrincipal` and `require_scopes` wire it into FastAPI with
  problem+json errors; `tessera.grpc` holds the gRPC interceptors.
- `ServiceTokenProvider` (client_credentials) and `TokenExchanger` (RFC 8693) obtain tokens
  from auth as this service; `RevocationIndex` + `RevocationWatcher` keep revocations pushed
  by auth in memory (DESIGN §4, §6).
- `configure_logging` writes JSON lines carrying `request_id_var` and the caller's `sub`.
"""

from tessera._token_endpoint import ServiceAuthError, TokenEndpointError, TokenExchangeError
from tessera.context import current_principal_var, request_id_var
from tessera.http.defaults import install_service_defaults
from tessera.http.deps import CurrentPrincipal, authenticate, bearer_token, require_scopes
from tessera.http.problems import ProblemError, bearer_challenge, problem_response
from tessera.logging import configure_logging
from tessera.revocation import RevocationEvent, RevocationIndex, RevocationWatcher
from tessera.service_identity import ServiceIdentity, ServiceIdentitySettings
from tessera.service_tokens import ServiceTokenProvider, ServiceTokenSource
from tessera.token_exchange import TokenExchanger, exchanged_token_source
from tessera.tokens.errors import (
    InsufficientScopeError,
    InvalidTokenError,
    MissingTokenError,
    TokenError,
)
from tessera.tokens.jwks import JwksCache, KeySource, RevocableKeySource, StaticKeySource
from tessera.tokens.principal import Principal
from tessera.tokens.verifier import RevocationCheck, TokenVerifier

__all__ = [
    "CurrentPrincipal",
    "InsufficientScopeError",
    "InvalidTokenError",
    "JwksCache",
    "KeySource",
    "MissingTokenError",
    "Principal",
    "ProblemError",
    "RevocableKeySource",
    "RevocationCheck",
    "RevocationEvent",
    "RevocationIndex",
    "RevocationWatcher",
    "ServiceAuthError",
    "ServiceIdentity",
    "ServiceIdentitySettings",
    "ServiceTokenProvider",
    "ServiceTokenSource",
    "StaticKeySource",
    "TokenEndpointError",
    "TokenError",
    "TokenExchangeError",
    "TokenExchanger",
    "TokenVerifier",
    "authenticate",
    "bearer_challenge",
    "bearer_token",
    "configure_logging",
    "current_principal_var",
    "exchanged_token_source",
    "install_service_defaults",
    "problem_response",
    "request_id_var",
    "require_scopes",
]
