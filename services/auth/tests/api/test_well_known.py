"""/.well-known: the JWK Set verifiers fetch, and RFC 8414 metadata from the configured issuer."""

from __future__ import annotations

import httpx
import jwt
from auth_service.api.token import GRANTS
from auth_service.config import Settings
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)


async def test_the_jwks_publishes_the_signing_key_and_the_next_one_and_is_cacheable(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    active, waiting = response.json()["keys"]  # active first; the next key is published early
    for key in (active, waiting):
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert active["kid"] != waiting["kid"]

    revalidated = await client.get(
        "/.well-known/jwks.json", headers={"If-None-Match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_tokens_verify_with_the_published_key(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com", "correct horse")
    token = (await log_in(client, "ada@example.com", "correct horse")).json()["access_token"]
    jwk = (await client.get("/.well-known/jwks.json")).json()["keys"][0]

    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    public_key = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public_key, RSAPublicKey)
    claims = jwt.decode(
        token, public_key, algorithms=["RS256"], audience="orders", options={"verify_iss": False}
    )
    assert claims["aud"] == ["auth", "orders", "billing"]


async def test_metadata_comes_from_the_issuer_setting_not_the_host_header(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get(
        "/.well-known/oauth-authorization-server", headers={"Host": "evil.example"}
    )

    assert response.status_code == 200
    metadata = response.json()
    issuer = settings.ISSUER
    assert metadata["issuer"] == issuer
    assert metadata["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert metadata["token_endpoint"] == f"{issuer}/v1/auth/token"
    assert metadata["response_types_supported"] == []
    assert "evil.example" not in response.text


async def test_there_is_no_openid_configuration(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")
    assert response.status_code == 404


async def test_metadata_lists_every_grant_and_client_authentication_the_token_endpoint_takes(
    client: httpx.AsyncClient,
) -> None:
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()

    assert set(metadata["grant_types_supported"]) == {
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert set(metadata["grant_types_supported"]) == set(GRANTS)
    assert metadata["acr_values_supported"] == [
        "urn:tessera:acr:pwd",
        "urn:tessera:acr:mfa",
        "urn:tessera:acr:phr",
    ]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert "revocation_endpoint" not in metadata
