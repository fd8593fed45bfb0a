"""How the user authenticated travels with every token (DESIGN §11), on real processes: the
login's access token says it (`auth_time`, `acr`, `amr`), a refresh keeps it, and the token orders
exchanges for billing carries it, so billing can demand a step-up (RFC 9470)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
from tessera_dev import probes
from tessera_dev.accounts import register_and_login
from tessera_dev.harness import RunningPlatform


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def test_the_authentication_context_survives_refresh_and_reaches_billing(
    platform: RunningPlatform,
) -> None:
    auth_url = platform.plan.service("auth").base_url
    account = register_and_login(auth_url, client_id="mobile")
    signed_in = claims(account.access_token)

    refreshed = httpx.post(
        f"{auth_url}/v1/auth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "mobile",
            "refresh_token": account.refresh_token,
        },
        timeout=30,
    ).json()
    exchanged = claims(probes.exchanged_for_billing(platform, refreshed["access_token"]))

    assert (signed_in["acr"], signed_in["amr"]) == ("urn:tessera:acr:pwd", ["pwd"])
    assert abs(signed_in["auth_time"] - signed_in["iat"]) <= 2
    for claim in ("auth_time", "acr", "amr"):
        assert claims(refreshed["access_token"])[claim] == signed_in[claim], claim
        assert exchanged[claim] == signed_in[claim], claim
    assert exchanged["aud"] == ["billing"]
