"""Step-up policies (RFC 9470): an operation that needs recent or strong authentication answers
a token that falls short with `insufficient_user_authentication`, over HTTP and over gRPC, and
lets a token that satisfies it through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import grpc
import httpx
import pytest
from fastapi import Depends, FastAPI
from tessera import TokenVerifier
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ClientAuthInterceptor, ServerAuthInterceptor, grpc_principal
from tessera.grpc.server import answers_service_errors
from tessera.http.defaults import install_service_defaults
from tessera.http.deps import require_authentication
from tessera.tokens.principal import Principal
from tessera.tokens.step_up import ACR_MFA, ACR_PHR, ACR_PWD, StepUpPolicy

from .conftest import NOW

Mint = Callable[..., str]
Claims = Callable[..., dict[str, Any]]
RECENT = StepUpPolicy(max_age_seconds=300)
STRONG = StepUpPolicy(max_age_seconds=900, min_acr=ACR_MFA)


def principal(**fields: Any) -> Principal:
    base: dict[str, Any] = {
        "sub": "user-1",
        "sid": "s-1",
        "client_id": "web",
        "scopes": frozenset(),
        "roles": frozenset(),
        "ver": 1,
        "jti": "j",
        "issued_at": int(NOW),
        "expires_at": int(NOW) + 300,
        "audience": ("orders",),
        "actor": None,
        "token": "t",
    }
    return Principal(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "policy", "reason"),
    [
        ({"auth_time": int(NOW) - 10, "acr": ACR_PWD}, RECENT, None),
        ({"auth_time": int(NOW) - 300, "acr": ACR_PWD}, RECENT, None),  # exactly max_age
        ({"auth_time": int(NOW) - 301, "acr": ACR_PWD}, RECENT, "more recent"),
        ({}, RECENT, "more recent"),  # a token that does not say when cannot prove it
        ({"auth_time": int(NOW) - 10, "acr": ACR_PWD}, STRONG, "stronger"),
        ({"auth_time": int(NOW) - 10, "acr": ACR_MFA}, STRONG, None),
        ({"auth_time": int(NOW) - 10, "acr": ACR_PHR}, STRONG, None),  # phr is above mfa
        ({"auth_time": int(NOW) - 10, "acr": "urn:other:gold"}, STRONG, "stronger"),
        ({"auth_time": int(NOW) - 901, "acr": ACR_MFA}, STRONG, "more recent"),
    ],
)
def test_a_policy_says_why_a_token_falls_short(
    fields: dict[str, Any], policy: StepUpPolicy, reason: str | None
) -> None:
    shortfall = policy.shortfall(principal(**fields), now=NOW)

    assert (shortfall is None) if reason is None else (reason in (shortfall or ""))


def test_a_policy_refuses_levels_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="min_acr"):
        StepUpPolicy(min_acr="gold")


async def test_the_verifier_exposes_auth_time_amr_and_acr(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    verified = await verifier.verify(
        mint(claims(auth_time=int(NOW) - 60, amr=["pwd", "otp"], acr=ACR_MFA))
    )
    bare = await verifier.verify(mint(claims()))

    assert (verified.auth_time, verified.amr, verified.acr) == (
        int(NOW) - 60,
        ("pwd", "otp"),
        ACR_MFA,
    )
    assert (bare.auth_time, bare.amr, bare.acr) == (None, (), None)


@pytest.mark.parametrize(
    "bad", [{"auth_time": "yesterday"}, {"auth_time": 10**400}, {"amr": "pwd"}, {"acr": 5}]
)
async def test_a_malformed_authentication_context_is_an_invalid_token(
    verifier: TokenVerifier, mint: Mint, claims: Claims, bad: dict[str, Any]
) -> None:
    from tessera.tokens.errors import InvalidTokenError

    with pytest.raises(InvalidTokenError):
        await verifier.verify(mint(claims(**bad)))


@pytest.fixture
async def http(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_service_defaults(app, service="orders", readiness={}, max_body_bytes=4096)
    app.state.token_verifier = verifier

    @app.post("/v1/refund")
    async def refund(
        caller: Annotated[Principal, Depends(require_authentication(STRONG))],
    ) -> dict[str, str]:
        return {"sub": caller.sub}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client


async def test_http_answers_the_rfc_9470_challenge_and_repeats_it_in_the_problem(
    http: httpx.AsyncClient, mint: Mint, claims: Claims
) -> None:
    stale = mint(claims(auth_time=int(NOW) - 3600, acr=ACR_MFA))

    response = await http.post("/v1/refund", headers={"Authorization": f"Bearer {stale}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A more recent authentication is required", '
        f'max_age="900", acr_values="{ACR_MFA}"'
    )
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_age"] == 900
    assert response.json()["acr_values"] == ACR_MFA


async def test_http_lets_a_token_that_satisfies_the_policy_through(
    http: httpx.AsyncClient, mint: Mint, claims: Claims
) -> None:
    fresh = mint(claims(auth_time=int(NOW) - 5, acr=ACR_MFA))

    response = await http.post("/v1/refund", headers={"Authorization": f"Bearer {fresh}"})

    assert (response.status_code, response.json()) == (200, {"sub": "user-1"})


class RefundingBilling(billing_pb2_grpc.BillingServiceServicer):
    @answers_service_errors
    async def Refund(  # noqa: N802 - generated method name
        self, request: billing_pb2.RefundRequest, context: Any
    ) -> billing_pb2.Invoice:
        caller = grpc_principal()
        RECENT.check(caller, now=NOW)
        return billing_pb2.Invoice(id=request.invoice_id, user_id=caller.sub)

    async def Charge(  # noqa: N802
        self, request: billing_pb2.ChargeRequest, context: Any
    ) -> billing_pb2.Invoice:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")
        raise AssertionError

    async def GetInvoice(  # noqa: N802
        self, request: billing_pb2.GetInvoiceRequest, context: Any
    ) -> billing_pb2.Invoice:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")
        raise AssertionError

    async def ListInvoices(  # noqa: N802
        self, request: billing_pb2.ListInvoicesRequest, context: Any
    ) -> billing_pb2.ListInvoicesResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")
        raise AssertionError


@pytest.fixture
async def grpc_target(verifier: TokenVerifier) -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[ServerAuthInterceptor(verifier)])
    billing_pb2_grpc.add_BillingServiceServicer_to_server(RefundingBilling(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


async def refund(target: str, token: str) -> billing_pb2.Invoice:
    async def source() -> str:
        return token

    interceptors = [ClientAuthInterceptor(source)]
    async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        invoice: billing_pb2.Invoice = await stub.Refund(
            billing_pb2.RefundRequest(invoice_id="inv-1"), timeout=5
        )
        return invoice


async def test_grpc_answers_unauthenticated_with_the_same_challenge_in_trailing_metadata(
    grpc_target: str, mint: Mint, claims: Claims
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await refund(grpc_target, mint(claims(auth_time=int(NOW) - 301, acr=ACR_PWD)))

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    trailing = dict(refused.value.trailing_metadata() or ())
    assert trailing["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A more recent authentication is required", max_age="300"'
    )


async def test_grpc_lets_a_recent_authentication_through(
    grpc_target: str, mint: Mint, claims: Claims
) -> None:
    invoice = await refund(grpc_target, mint(claims(auth_time=int(NOW) - 1, acr=ACR_PWD)))

    assert (invoice.id, invoice.user_id) == ("inv-1", "user-1")
