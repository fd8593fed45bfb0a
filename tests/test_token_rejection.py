"""Forged and broken tokens are refused the same way at orders (HTTP) and billing (gRPC).

Every token here is what an attacker can make without auth's private key: signed with another
RSA key under the real `kid`, `alg` none, HS256 keyed with the published public key, a real
token whose claims were edited (audience changed, expiry pushed back: the signature no longer
matches), an unknown `kid`, oversized, or not a JWT at all. The real processes, wired
together, must answer 401 + `WWW-Authenticate: Bearer error="invalid_token"` over HTTP and
UNAUTHENTICATED over gRPC, and 401 with a bare challenge when there is no token. Tokens signed
with the real key but wrong in one way (expired, wrong audience, ...) are in test_token_policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera_dev.accounts import Account
from tessera_dev.harness import RunningPlatform

FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class RealKey:
    kid: str
    public_pem: bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(account: Account, **overrides: Any) -> dict[str, Any]:
    """The account's real claims but fresh: only the signature of a forgery is wrong."""
    now = int(time.time())
    real = jwt.decode(account.access_token, options={"verify_signature": False})
    base: dict[str, Any] = {
        "iss": real["iss"],
        "sub": account.id,
        "aud": ["auth", "orders", "billing"],
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
        "client_id": "web",
        "scope": "orders:read orders:write invoices:read sessions",
        "roles": ["user", "admin"],
        "ver": 1,
    }
    return base | overrides


def header(kid: str, alg: str) -> dict[str, Any]:
    return {"alg": alg, "kid": kid, "typ": "at+jwt"}


def signed_by_foreign_key(key: RealKey, account: Account) -> str:
    return jwt.encode(
        claims(account), FOREIGN_KEY, algorithm="RS256", headers=header(key.kid, "RS256")
    )


def alg_none(key: RealKey, account: Account) -> str:
    return f"{segment(header(key.kid, 'none'))}.{segment(claims(account))}."


def hs256_keyed_with_the_public_key(key: RealKey, account: Account) -> str:
    signing_input = f"{segment(header(key.kid, 'HS256'))}.{segment(claims(account))}"
    mac = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def _edited(account: Account, **changes: Any) -> str:
    head, payload, signature = account.access_token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{head}.{segment(decoded | changes)}.{signature}"


def real_token_with_another_audience(key: RealKey, account: Account) -> str:
    return _edited(account, aud=["elsewhere"])


def real_token_edited_to_live_longer(key: RealKey, account: Account) -> str:
    return _edited(account, exp=int(time.time()) + 86_400)


def oversized(key: RealKey, account: Account) -> str:
    return _edited(account, padding="x" * 9000)


def unknown_kid(key: RealKey, account: Account) -> str:
    return jwt.encode(
        claims(account), FOREIGN_KEY, algorithm="RS256", headers=header("nobody", "RS256")
    )


def garbage(key: RealKey, account: Account) -> str:
    return "this-is-not-a-jwt"


FORGERIES: list[Callable[[RealKey, Account], str]] = [
    signed_by_foreign_key,
    alg_none,
    hs256_keyed_with_the_public_key,
    real_token_with_another_audience,
    real_token_edited_to_live_longer,
    oversized,
    unknown_kid,
    garbage,
]


@pytest.fixture(scope="session")
def real_key(platform: RunningPlatform) -> RealKey:
    jwks = httpx.get(platform.plan.service("auth").base_url + "/.well-known/jwks.json").json()
    jwk = jwks["keys"][0]
    public_key = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public_key, rsa.RSAPublicKey)
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RealKey(kid=jwk["kid"], public_pem=pem)


@pytest.mark.parametrize("forge", FORGERIES, ids=lambda f: f.__name__)
def test_orders_answers_401_invalid_token_to_a_forged_token(
    forge: Callable[[RealKey, Account], str],
    real_key: RealKey,
    alice: Account,
    orders: httpx.Client,
) -> None:
    answer = orders.get("/v1/orders", headers={"Authorization": f"Bearer {forge(real_key, alice)}"})

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert answer.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("forge", FORGERIES, ids=lambda f: f.__name__)
def test_billing_grpc_answers_unauthenticated_to_a_forged_token(
    forge: Callable[[RealKey, Account], str],
    real_key: RealKey,
    alice: Account,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
) -> None:
    token = forge(real_key, alice)

    with pytest.raises(grpc.RpcError) as refused:
        billing_grpc.Charge(
            billing_pb2.ChargeRequest(
                order_id=str(uuid.uuid4()), amount_cents=100, currency="EUR", idempotency_key="k"
            ),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_real_token_is_accepted_where_the_forgeries_are_refused(
    alice: Account, orders: httpx.Client, billing_grpc: billing_pb2_grpc.BillingServiceStub
) -> None:
    assert orders.get("/v1/orders", headers=alice.bearer).status_code == 200
    listed = billing_grpc.ListInvoices(
        billing_pb2.ListInvoicesRequest(page_size=10),
        metadata=(("authorization", f"Bearer {alice.access_token}"),),
        timeout=10,
    )
    assert all(invoice.user_id == alice.id for invoice in listed.invoices)


def test_no_authorization_header_is_401_with_a_bare_bearer_challenge(
    orders: httpx.Client, billing_grpc: billing_pb2_grpc.BillingServiceStub
) -> None:
    answer = orders.get("/v1/orders")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    with pytest.raises(grpc.RpcError) as refused:
        billing_grpc.ListInvoices(billing_pb2.ListInvoicesRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
