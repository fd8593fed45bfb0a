"""/.well-known: the JWK Set verifiers fetch, and RFC 8414 metadata from the configured issuer."""

from __future__ import annotations

import httpx
import jwt
from auth_service.config import Settings
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)


async def test_the_jwks_publishes_the_signing_key_and_is_cacheable(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")

    revalidated = await client.get(
        "/.well-known/jwks.json", headers={"If-None-Match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_tokens_verify_with_the_published_key(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com", "correct horse")
    token = (await log_in(client, "ada@example.com", "correct horse")).json()["access_token"]
    (jwk,) = (await client.get("/.well-known/jwks.json")).json()["keys"]

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
