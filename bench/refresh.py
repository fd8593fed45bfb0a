"""Benchmark: refresh-token rotations per second on PostgreSQL, against raw RSA-2048 signing.

- Rotations: the real auth app (in process, over httpx's ASGI transport) on a fresh PostgreSQL
  database, 32 concurrent mobile clients, each rotating its own session's refresh token in a
  loop for a fixed time. Every rotation locks the token row, marks it used, seals and inserts
  the successor, audits, and signs an access token (RS256), all in one transaction.
- Signing: raw RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core, in the same
  run; the ratio rotations/s ÷ signatures/s is the issue's measure (target >= 0.5).
- Floor: in the same harness (in-process ASGI, 32 clients), an endpoint that only signs an
  RS256 JWT, no database at all. Its rate bounds what any rotation could reach here, so
  `ratio_sign_only_endpoint_to_signs` shows how much of the 0.5 target HTTP plus one signature
  already take, and `ratio_rotations_to_sign_only_endpoint` what the rotation itself costs.
- Duplicates: after the timed phase, 32 clients refresh one token at once; then every family is
  checked for a generation with more than one token. Both must give 0 duplicate successors, the
  32 contended callers no error (all get the one successor), and that family must stay alive.

    uv run --frozen python -m bench.refresh
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from auth_service.adapters.migrations import MIGRATIONS
from auth_service.adapters.models import RefreshTokenRow
from auth_service.config import Settings
from auth_service.main import create_app
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CLIENTS = 32
SECONDS = 5.0
PASSWORD = "correct horse battery"


def rsa_signatures_per_second(seconds: float = 1.0) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = secrets.token_bytes(300)  # about a JWT's signing input
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        count += 50
    return count / elapsed


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    name = f"auth_bench_{uuid.uuid4().hex}"
    admin = create_async_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        try:
            await MIGRATIONS.upgrade(url)
            yield url
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": token},
    )


def bench_settings(database_url: str) -> Settings:
    """auth as the refresh benchmarks run it: cheap argon2id, limits out of the way."""
    return Settings(
        DATABASE_URL=database_url,
        ISSUER="https://auth.bench.test",
        KEY_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        PASSWORD_HASH_TIME_COST=1,
        PASSWORD_HASH_MEMORY_KIB=1024,
        PASSWORD_HASH_PARALLELISM=1,
        LOGIN_RATE_LIMIT_PER_ACCOUNT="100000/minute",
        LOGIN_RATE_LIMIT_PER_IP="100000/minute",
        LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT="100000/minute",
        REFRESH_RATE_LIMIT_PER_IP="10000000/minute",
        # the bench signs its user in without the mailed link (bench.enumeration times mail)
        EMAIL_VERIFICATION="optional",
        SMTP_URL="smtp://127.0.0.1:9",
    )


async def _measure(database_url: str) -> dict[str, float]:
    app = create_app(bench_settings(database_url))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://auth.bench.test") as http,
    ):
        await http.post("/v1/users", json={"email": "bench@example.com", "password": PASSWORD})

        async def login() -> str:
            body = {"email": "bench@example.com", "password": PASSWORD, "client_id": "mobile"}
            token: str = (await http.post("/v1/auth/login", json=body)).json()["refresh_token"]
            return token

        tokens = [await login() for _ in range(CLIENTS)]
        for token in tokens:  # warm-up: connections, statement caches
            await _refresh(http, token)
        tokens = [await login() for _ in range(CLIENTS)]
        deadline = time.perf_counter() + SECONDS
        failures = 0

        async def client(token: str) -> int:
            nonlocal failures
            rotations = 0
            while time.perf_counter() < deadline:
                response = await _refresh(http, token)
                if response.status_code != 200:
                    failures += 1
                    break
                token = response.json()["refresh_token"]
                rotations += 1
            return rotations

        started = time.perf_counter()
        rotations = sum(await asyncio.gather(*(client(t) for t in tokens)))
        elapsed = time.perf_counter() - started

        contended = await login()
        answers = await asyncio.gather(*(_refresh(http, contended) for _ in range(CLIENTS)))
        successors = {a.json()["refresh_token"] for a in answers if a.status_code == 200}
        contended_errors = sum(a.status_code != 200 for a in answers)
        # the family must still be alive: its one successor refreshes
        alive = len(successors) == 1 and (
            (await _refresh(http, next(iter(successors)))).status_code == 200
        )

        runtime: Any = app.state.runtime
        async with runtime.storage.session_factory() as session:
            rows = (await session.execute(select(RefreshTokenRow))).scalars().all()
        per_generation = Counter((row.session_id, row.generation) for row in rows)
        duplicates = sum(n - 1 for n in per_generation.values()) + max(0, len(successors) - 1)
    return {
        "rotations_per_s": rotations / elapsed,
        "failed_refreshes": float(failures),
        "duplicate_successors": float(duplicates),
        "contended_errors": float(contended_errors),
        "contended_family_revoked": float(not alive),
    }


async def sign_only_endpoint_per_second() -> float:
    """Requests/s of a FastAPI endpoint that signs one access token and touches nothing else."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    floor = FastAPI()

    @floor.post("/sign")
    async def sign() -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": "user", "aud": ["auth", "orders"], "iat": now, "exp": now + 300}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k", "typ": "at+jwt"})
        return {"access_token": token}

    transport = httpx.ASGITransport(app=floor)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor.bench") as http:
        for _ in range(100):
            await http.post("/sign")
        deadline = time.perf_counter() + SECONDS

        async def client() -> int:
            calls = 0
            while time.perf_counter() < deadline:
                await http.post("/sign")
                calls += 1
            return calls

        started = time.perf_counter()
        calls = sum(await asyncio.gather(*(client() for _ in range(CLIENTS))))
        return calls / (time.perf_counter() - started)


def run() -> dict[str, float]:
    async def measure() -> dict[str, float]:
        async with fresh_postgres_database() as url:
            return await _measure(url)

    results = asyncio.run(measure())
    floor = asyncio.run(sign_only_endpoint_per_second())
    signatures = rsa_signatures_per_second()
    return {
        "rotations_per_s_32_clients": results["rotations_per_s"],
        "rsa2048_signs_per_s_per_core": signatures,
        "ratio_rotations_to_signs": results["rotations_per_s"] / signatures,
        "sign_only_endpoint_per_s": floor,
        "ratio_sign_only_endpoint_to_signs": floor / signatures,
        "ratio_rotations_to_sign_only_endpoint": results["rotations_per_s"] / floor,
        "failed_refreshes": results["failed_refreshes"],
        "duplicate_successors": results["duplicate_successors"],
        "contended_refresh_errors": results["contended_errors"],
        "contended_family_revoked": results["contended_family_revoked"],
    }


if __name__ == "__main__":
    for measure, value in run().items():
        print(f"{measure:32} {value:12,.2f}")
