"""Benchmark: what a step-up policy (RFC 9470, `tessera.tokens.step_up`) costs a request.

One FastAPI app in process (over httpx's ASGI transport, with the platform's middleware and
problem handlers) with two routes that differ only in their dependency: one takes the verified
caller (`CurrentPrincipal`), the other the caller whose authentication satisfies a policy
(`require_authentication(StepUpPolicy(max_age_seconds=300, min_acr=ACR_MFA))`). The same token
(recent, acr mfa: it passes) is sent to both, in alternating batches, so the noise of a shared
machine falls on both alike; the measure is the median of the rounds' ratios. Target: policy
route >= 0.97 x the plain one.

    uv run --frozen python -m bench.step_up
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Annotated

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from tessera import StaticKeySource, TokenVerifier
from tessera.http.defaults import install_service_defaults
from tessera.http.deps import CurrentPrincipal, require_authentication
from tessera.tokens.principal import Principal
from tessera.tokens.step_up import ACR_MFA, StepUpPolicy

from bench.verifier import AUDIENCE, ISSUER, KID, mint_access_token

ROUNDS = 30
BATCH = 200
PATHS = ("/plain", "/step-up")
POLICY = StepUpPolicy(max_age_seconds=300, min_acr=ACR_MFA)


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_service_defaults(app, service="orders", readiness={}, max_body_bytes=4096)
    app.state.token_verifier = verifier

    # the policy route first: a route further down the table costs one more path match
    @app.get("/step-up")
    async def step_up(
        caller: Annotated[Principal, Depends(require_authentication(POLICY))],
    ) -> dict[str, str]:
        return {"sub": caller.sub}

    @app.get("/plain")
    async def plain(caller: CurrentPrincipal) -> dict[str, str]:
        return {"sub": caller.sub}

    return app


async def _batch(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    for _ in range(BATCH):
        answer = await http.get(path, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    return time.perf_counter() - started


async def _measure() -> dict[str, float]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=StaticKeySource({KID: key.public_key()})
    )
    now = time.time()
    token = mint_access_token(key, 1, now, auth_time=int(now), acr=ACR_MFA, amr=["pwd", "otp"])
    headers = {"Authorization": f"Bearer {token}"}
    rounds: list[dict[str, float]] = []
    transport = httpx.ASGITransport(app=_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as http:
        for path in PATHS:  # warm-up
            await _batch(http, path, headers)
        for round_number in range(ROUNDS):
            order = PATHS if round_number % 2 == 0 else PATHS[::-1]
            rounds.append({path: await _batch(http, path, headers) for path in order})
    plain = statistics.median(BATCH / r["/plain"] for r in rounds)
    with_policy = statistics.median(BATCH / r["/step-up"] for r in rounds)
    return {
        "requests/s without a step-up policy": plain,
        "requests/s with a step-up policy": with_policy,
        # the median of the rounds' ratios: a noisy neighbour spoils a round, not the result
        "ratio step-up policy to none (target >= 0.97)": statistics.median(
            r["/plain"] / r["/step-up"] for r in rounds
        ),
    }


def run() -> dict[str, float]:
    return asyncio.run(_measure())


if __name__ == "__main__":
    for measure, value in run().items():
        print(f"{measure:48} {value:12.2f}")
