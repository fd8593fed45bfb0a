"""Tokens signed with auth's real key but wrong in exactly one way are refused at both transports.

The test plays the operator who holds auth's database and key-encryption key: it loads the
active signing key with auth's own key store (`SigningKeyStore`), takes Alice's real token,
changes one thing and signs it again. A correctly re-signed copy must be accepted (so each
refusal below is about the one change, not the minting), every changed one must get 401 +
`invalid_token` at orders and UNAUTHENTICATED at billing's gRPC, and a valid token without the
needed scope must get 403 + `insufficient_scope` / PERMISSION_DENIED.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import jwt
import pytest
from auth_service.adapters.storage import open_storage
from auth_service.bootstrap import signing_key_store_from
from auth_service.config import Settings
from auth_service.domain.keys import SigningKey
from tessera.billing.v1 import billing_pb2_grpc
from tessera_dev.accounts import Account
from tessera_dev.harness import RunningPlatform
from tessera_dev.probes import list_invoices_code


@dataclass(frozen=True)
class Change:
    """One thing wrong with an otherwise valid token: header and claim edits (None removes)."""

    name: str
    claims: Callable[[dict[str, Any]], dict[str, Any]] = lambda claims: claims
    header: Callable[[dict[str, Any]], dict[str, Any]] = lambda header: header
    algorithm: str = "RS256"


def _now() -> int:
    return int(time.time())


def _without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda claims: {k: v for k, v in claims.items() if k != name}


ONE_THING_WRONG = [
    Change(
        "expired", lambda c: c | {"iat": _now() - 900, "nbf": _now() - 900, "exp": _now() - 600}
    ),
    Change("not_yet_valid", lambda c: c | {"nbf": _now() + 600}),
    Change("issued_in_the_future", lambda c: c | {"iat": _now() + 600}),
    Change("audience_without_orders_or_billing", lambda c: c | {"aud": ["auth"]}),
    Change("issuer_that_is_only_a_prefix", lambda c: c | {"iss": c["iss"][:-1]}),
    Change("issuer_with_a_suffix", lambda c: c | {"iss": c["iss"] + ".evil.example"}),
    Change("exp_as_a_string", lambda c: c | {"exp": str(c["exp"])}),
    Change("without_jti", _without("jti")),
    Change("without_sub", _without("sub")),
    Change("without_exp", _without("exp")),
    Change("typ_jwt", header=lambda h: h | {"typ": "JWT"}),
    Change("jku_header", header=lambda h: h | {"jku": "http://127.0.0.1:9/jwks.json"}),
    Change("crit_header", header=lambda h: h | {"crit": ["exp"]}),
    Change("rs512_with_the_real_key", algorithm="RS512"),
    Change("ps256_with_the_real_key", algorithm="PS256"),
]


@pytest.fixture(scope="session")
def auth_signing_key(platform: RunningPlatform) -> SigningKey:
    auth = platform.plan.service("auth").settings
    settings = Settings(
        DATABASE_URL=auth["DATABASE_URL"],
        KEY_ENCRYPTION_KEY=auth["KEY_ENCRYPTION_KEY"],
    )

    async def load() -> SigningKey:
        async with open_storage(settings.DATABASE_URL) as storage:
            ring = await signing_key_store_from(settings, storage).load_key_ring()
            return ring.signing_key

    return asyncio.run(load())


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def resign(key: SigningKey, account: Account, change: Change) -> str:
    """Alice's real token with `change` applied, signed again with auth's active key."""
    header = change.header({"kid": key.kid, "typ": "at+jwt"})
    return jwt.encode(
        change.claims(_claims_of(account.access_token)),
        key.private_key,
        algorithm=change.algorithm,
        headers=header,
    )


_list_invoices = list_invoices_code


def test_a_correctly_resigned_copy_of_the_real_token_is_accepted(
    auth_signing_key: SigningKey,
    alice: Account,
    orders: httpx.Client,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
) -> None:
    token = resign(auth_signing_key, alice, Change("unchanged"))
    fresh = resign(
        auth_signing_key, alice, Change("new_jti", lambda c: c | {"jti": str(uuid.uuid4())})
    )

    for candidate in (token, fresh):
        assert (
            orders.get("/v1/orders", headers={"Authorization": f"Bearer {candidate}"}).status_code
            == 200
        )
        assert _list_invoices(billing_grpc, candidate) == grpc.StatusCode.OK


@pytest.mark.parametrize("change", ONE_THING_WRONG, ids=lambda c: c.name)
def test_orders_answers_401_invalid_token_to_a_signed_token_with_one_thing_wrong(
    change: Change, auth_signing_key: SigningKey, alice: Account, orders: httpx.Client
) -> None:
    token = resign(auth_signing_key, alice, change)

    answer = orders.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("change", ONE_THING_WRONG, ids=lambda c: c.name)
def test_billing_grpc_answers_unauthenticated_to_a_signed_token_with_one_thing_wrong(
    change: Change,
    auth_signing_key: SigningKey,
    alice: Account,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
) -> None:
    token = resign(auth_signing_key, alice, change)

    assert _list_invoices(billing_grpc, token) == grpc.StatusCode.UNAUTHENTICATED


def test_a_valid_token_without_the_needed_scope_is_403_at_orders_and_billing(
    auth_signing_key: SigningKey,
    alice: Account,
    orders: httpx.Client,
    billing: httpx.Client,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
) -> None:
    token = resign(
        auth_signing_key, alice, Change("sessions_only", lambda c: c | {"scope": "sessions"})
    )
    bearer = {"Authorization": f"Bearer {token}"}

    for answer in (
        orders.get("/v1/orders", headers=bearer),
        billing.get("/v1/invoices", headers=bearer),
    ):
        assert answer.status_code == 403
        assert answer.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert _list_invoices(billing_grpc, token) == grpc.StatusCode.PERMISSION_DENIED
