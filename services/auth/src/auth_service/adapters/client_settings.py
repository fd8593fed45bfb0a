"""Service clients as configured: secrets from `SERVICE_CLIENTS` / `SERVICE_CLIENTS_FILE`, rules.

Both sources are JSON objects `{"orders": "<secret>", ...}`; the file (a mounted secret) wins for
an id present in both. Malformed configuration fails start-up with a message that names the
problem but never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from auth_service.config import Settings
from auth_service.domain.service_clients import (
    MIN_PRODUCTION_SECRET_LENGTH,
    ClientPermissions,
    validate_client_id,
)
from auth_service.domain.token_exchange import ExchangeRules


class ServiceClientConfigError(ValueError):
    """Raised at start-up when the configured service clients are unusable."""


def _secrets_file(settings: Settings) -> dict[str, str]:
    path = settings.SERVICE_CLIENTS_FILE
    if path is None:
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServiceClientConfigError(
            f"cannot read SERVICE_CLIENTS_FILE: {exc.strerror}"
        ) from None
    except ValueError:
        raise ServiceClientConfigError("SERVICE_CLIENTS_FILE is not JSON") from None
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in loaded.items()
    ):
        raise ServiceClientConfigError(
            'SERVICE_CLIENTS_FILE must be a JSON object {"client id": "secret", ...}'
        )
    return loaded


def configured_client_secrets(settings: Settings) -> dict[str, str]:
    """Every configured client id with its secret, checked (ids well formed, secrets non-empty)."""
    found = {key: value.get_secret_value() for key, value in settings.SERVICE_CLIENTS.items()}
    found.update(_secrets_file(settings))
    for client_id, secret in found.items():
        try:
            validate_client_id(client_id)
        except ValueError as exc:
            raise ServiceClientConfigError(str(exc)) from None
        if not secret.strip():
            raise ServiceClientConfigError(f"service client {client_id!r} has an empty secret")
        too_short = len(secret) < MIN_PRODUCTION_SECRET_LENGTH
        if settings.ENVIRONMENT == "production" and too_short:
            raise ServiceClientConfigError(
                f"service client {client_id!r}: production secrets must have at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters"
            )
    return found


def configured_permissions(settings: Settings) -> dict[str, ClientPermissions]:
    """What each client id may do, from `SERVICE_CLIENT_RULES`."""
    return {
        client_id: ClientPermissions(
            grants=rule.grants, audiences=rule.audiences, scopes=rule.scopes
        )
        for client_id, rule in settings.SERVICE_CLIENT_RULES.items()
    }


def exchange_rules(settings: Settings) -> ExchangeRules:
    rules: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = settings.TOKEN_EXCHANGE_RULES
    return rules
