"""Tessera shared library: what every resource service needs to authenticate its callers.

- `TokenVerifier` verifies access tokens (DESIGN §2) with keys from a `KeySource` such as the
  `JwksCache`, and returns a `Principal`.
- `ResourceServer` owns a resource service's key source, verifier and identity at auth (the
  revocation watcher, the token exchanger) and their start/stop; `create_service_app` builds a
  FastAPI app around it (problem+json, `/healthz`, `/readyz`, `/metrics`, request ids), and
  `CurrentPrincipal` / `require_scopes` authenticate routes; `tessera.grpc` holds the gRPC
  interceptors.
- `ServiceTokenProvider` (client_credentials) and `TokenExchanger` (RFC 8693) obtain tokens
  from auth as this service; `RevocationIndex` + `RevocationWatcher` keep revocations pushed
  by auth in memory (DESIGN §4, §6).
- `ServiceError` is the base of every service's exception tree; `configure_logging` writes
  JSON lines (or, with `LOG_FORMAT=console`, lines for people) carrying `request_id_var` and the
  caller's `sub`.
- Service scaffolding: `tessera.storage` (engine, UTC column type, migrations),
  `tessera.service_cli` (`serve` / `migrate`), `tessera.background` (a loop's start/stop).

Names are imported on first use, so `from tessera.tokens.principal import Principal` in a
service's domain code loads neither FastAPI nor gRPC.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names as _WHERE, for type checkers
    from tessera._token_endpoint import ServiceAuthError as ServiceAuthError
    from tessera._token_endpoint import TokenExchangeError as TokenExchangeError
    from tessera.context import current_principal_var as current_principal_var
    from tessera.context import request_id_var as request_id_var
    from tessera.errors import ServiceError as ServiceError
    from tessera.http.app import create_service_app as create_service_app
    from tessera.http.defaults import install_service_defaults as install_service_defaults
    from tessera.http.deps import CurrentPrincipal as CurrentPrincipal
    from tessera.http.deps import authenticate as authenticate
    from tessera.http.deps import require_scopes as require_scopes
    from tessera.http.problems import ProblemError as ProblemError
    from tessera.http.problems import problem_for as problem_for
    from tessera.logging import configure_logging as configure_logging
    from tessera.resource_server import ResourceServer as ResourceServer
    from tessera.revocation import RevocationEvent as RevocationEvent
    from tessera.revocation import RevocationIndex as RevocationIndex
    from tessera.revocation import RevocationWatcher as RevocationWatcher
    from tessera.service_identity import ServiceIdentity as ServiceIdentity
    from tessera.service_tokens import ServiceTokenProvider as ServiceTokenProvider
    from tessera.settings import LoggingSettings as LoggingSettings
    from tessera.settings import ResourceServerSettings as ResourceServerSettings
    from tessera.settings import ServiceSettings as ServiceSettings
    from tessera.token_exchange import TokenExchanger as TokenExchanger
    from tessera.token_exchange import exchanged_token_source as exchanged_token_source
    from tessera.tokens.challenges import bearer_challenge as bearer_challenge
    from tessera.tokens.errors import InvalidTokenError as InvalidTokenError
    from tessera.tokens.jwks import JwksCache as JwksCache
    from tessera.tokens.jwks import KeySource as KeySource
    from tessera.tokens.jwks import StaticKeySource as StaticKeySource
    from tessera.tokens.principal import Principal as Principal
    from tessera.tokens.verifier import TokenVerifier as TokenVerifier

_WHERE = {
    "tessera._token_endpoint": ("ServiceAuthError", "TokenExchangeError"),
    "tessera.context": ("current_principal_var", "request_id_var"),
    "tessera.errors": ("ServiceError",),
    "tessera.http.app": ("create_service_app",),
    "tessera.http.defaults": ("install_service_defaults",),
    "tessera.http.deps": ("CurrentPrincipal", "authenticate", "require_scopes"),
    "tessera.http.problems": ("ProblemError", "problem_for"),
    "tessera.logging": ("configure_logging",),
    "tessera.resource_server": ("ResourceServer",),
    "tessera.revocation": ("RevocationEvent", "RevocationIndex", "RevocationWatcher"),
    "tessera.service_identity": ("ServiceIdentity",),
    "tessera.service_tokens": ("ServiceTokenProvider",),
    "tessera.settings": ("LoggingSettings", "ResourceServerSettings", "ServiceSettings"),
    "tessera.token_exchange": ("TokenExchanger", "exchanged_token_source"),
    "tessera.tokens.challenges": ("bearer_challenge",),
    "tessera.tokens.errors": ("InvalidTokenError",),
    "tessera.tokens.jwks": ("JwksCache", "KeySource", "StaticKeySource"),
    "tessera.tokens.principal": ("Principal",),
    "tessera.tokens.verifier": ("TokenVerifier",),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
