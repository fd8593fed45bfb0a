"""Benchmark: a session's ten-thousandth rotation costs what its first did.

A refresh-token family grows by one row per rotation (a mobile session refreshed every 5
minutes for 90 days has about 26,000). Every statement of a rotation must reach its rows by a
key, never by a walk of the family, or its cost (and the lock it holds) grows with the age of
the session. Measured on PostgreSQL, in one run:

- two mobile sessions of one user on the real auth app (in process); one family is seeded
  directly with 10,000 used generations (as if it had rotated that often), the other is fresh;
- rotations of the two are interleaved, a few at a time, so both see the same machine;
- CPU per rotation is this process's CPU (the app) plus PostgreSQL's (every `postgres`
  process's utime + stime from /proc), so work done in the database counts too; the app's
  share is shown alone as well (a walk of the family costs in the database, not here).

Without the partial index of migration 0009 the ratio was 1.13 here (2.4 ms more of PostgreSQL
CPU per rotation: the clearing UPDATE visited all 10,000 rows); with it, 1.02.

    uv run --frozen python -m bench.long_family
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from auth_service.adapters.models import RefreshTokenRow
from auth_service.main import create_app
from sqlalchemy import insert, text, update

from bench.refresh import PASSWORD, bench_settings, fresh_postgres_database

PRIOR_ROTATIONS = 10_000
ROUNDS = 12
PER_ROUND = 15
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU used so far by every local `postgres` process (the server and its backends)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name, _, rest = stat.partition(") ")
        if name.endswith("(postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def cpu_seconds() -> float:
    return time.process_time() + postgres_cpu_seconds()


async def _seed_family(app: Any, session_id: str, count: int) -> None:
    """`count` used generations in the family, as its rotations would have left them."""
    now = datetime.now(UTC)
    rows = [
        {
            "token_hash": hashlib.sha256(secrets.token_bytes(32)).digest(),
            "session_id": session_id,
            "generation": generation,
            "created_at": now - timedelta(minutes=5 * (count + 1 - generation)),
            "used_at": now - timedelta(minutes=5 * (count - generation)),
            "successor_hash": secrets.token_bytes(32),
        }
        for generation in range(2, count + 2)
    ]
    async with app.state.runtime.storage.session_factory() as session, session.begin():
        await session.execute(insert(RefreshTokenRow), rows)
        # the live token (the login's, generation 1) becomes the newest generation
        await session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.session_id == session_id, RefreshTokenRow.used_at.is_(None))
            .values(generation=count + 2)
        )
    async with app.state.runtime.storage.engine.begin() as connection:
        # what autovacuum does after this many new rows: the planner then knows the family
        # is long and that only a row or two still holds a sealed successor
        await connection.execute(text("ANALYZE refresh_tokens"))


async def _measure(database_url: str) -> dict[str, float]:
    app = create_app(bench_settings(database_url))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://auth.bench.test") as http,
    ):
        await http.post("/v1/users", json={"email": "bench@example.com", "password": PASSWORD})
        body = {"email": "bench@example.com", "password": PASSWORD, "client_id": "mobile"}
        tokens: dict[str, str] = {}
        app_cpu = {"long": 0.0, "fresh": 0.0}
        for family in ("long", "fresh"):
            login = (await http.post("/v1/auth/login", json=body)).json()
            tokens[family] = login["refresh_token"]
            if family == "long":
                claims = jwt.decode(login["access_token"], options={"verify_signature": False})
                await _seed_family(app, claims["sid"], PRIOR_ROTATIONS)

        async def rotate(family: str, times: int) -> float:
            started, started_app = cpu_seconds(), time.process_time()
            for _ in range(times):
                response = await http.post(
                    "/v1/auth/token",
                    data={
                        "grant_type": "refresh_token",
                        "client_id": "mobile",
                        "refresh_token": tokens[family],
                    },
                )
                response.raise_for_status()
                tokens[family] = response.json()["refresh_token"]
            app_cpu[family] += time.process_time() - started_app
            return cpu_seconds() - started

        await rotate("long", 5)  # warm-up: connections, statement caches
        await rotate("fresh", 5)
        spent = {"long": 0.0, "fresh": 0.0}
        app_cpu.update(long=0.0, fresh=0.0)
        for round_number in range(ROUNDS):
            order = ("long", "fresh") if round_number % 2 == 0 else ("fresh", "long")
            for family in order:
                spent[family] += await rotate(family, PER_ROUND)
    rotations = ROUNDS * PER_ROUND
    long_ms, fresh_ms = (1000 * spent[f] / rotations for f in ("long", "fresh"))
    app_long, app_fresh = (1000 * app_cpu[f] / rotations for f in ("long", "fresh"))
    return {
        "app cpu ms per rotation, fresh family": app_fresh,
        f"app cpu ms per rotation, {PRIOR_ROTATIONS:,} prior rotations": app_long,
        "cpu ms per rotation, fresh family": fresh_ms,
        f"cpu ms per rotation, {PRIOR_ROTATIONS:,} prior rotations": long_ms,
        "ratio 10,000-rotation family to fresh (target <= 1.10)": long_ms / fresh_ms,
    }


def run() -> dict[str, float]:
    async def measure() -> dict[str, float]:
        async with fresh_postgres_database() as url:
            return await _measure(url)

    return asyncio.run(measure())


if __name__ == "__main__":
    for measure, value in run().items():
        print(f"{measure}: {value:.3f}")
