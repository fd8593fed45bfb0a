"""Benchmark: what a refresh-token rotation costs the server, against the work it must do.

Every server is its own process as in production (`python -m auth_service serve`: uvicorn,
uvloop, httptools, the JSON access log on, PostgreSQL), driven by a load generator in another
process (`bench.load_client`, 32 mobile clients over loopback); what a request costs is the
server's CPU (utime + stime from /proc, every thread) per request, read before and after each
round (`bench.served`). Rates on 2 shared cores are bounded by the load client; CPU per
request is not.

- **The floor.** `bench.sign_only`: a FastAPI endpoint that only signs an RS256 access token.
  A rotation must do that and more (a read of token, session and user, a guarded write that
  marks the token used, stores its successor, touches the session and writes the audit row;
  a hash, a seal), so `cpu per rotation / cpu per signed token` is the measure (target <= 2.5).
  Each server's idle CPU (auth's background loops) is measured first and taken out.
- **No scan.** The same rotations on two databases, one with 1,000 stored sessions, one with
  1,000,000 (and as many refresh tokens and audit rows, seeded by `INSERT … SELECT` from
  `generate_series`); rounds interleaved, so both see the same machine. CPU per rotation
  (auth plus the PostgreSQL backends of its database) at 1,000,000 / at 1,000 (target <= 1.1).
- **Guarantees.** After the timed rounds, 32 callers refresh one token at once: every caller
  gets the one successor (0 errors), each generation of every family holds one token (0
  duplicates), and the family stays alive.
- **Logins.** auth at its configured argon2id parameters and hashing threads (verification,
  MFA and login limits out of the way) against raw argon2id verifications/s with the same
  parameters and threads in this process: login rate / hash rate (target >= 0.8).

    uv run --frozen python -m bench.refresh
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass

import asyncpg
import httpx
from auth_service.adapters.migrations import MIGRATIONS
from auth_service.config import Settings
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from tessera_dev.local_servers import LocalRedis

from bench.served import (
    LoadClient,
    PostgresBackends,
    ServedProcess,
    free_port,
    load_client,
    served,
)

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLIENTS = 32
ROUNDS = 5
ROUND_SECONDS = 4.0
IDLE_SECONDS = 3.0
LOGIN_CLIENTS = 6
LOGIN_ROUND_SECONDS = 4.0
PASSWORD = "correct horse battery"
EMAIL = "bench@example.com"
FEW_SESSIONS, MANY_SESSIONS = 1_000, 1_000_000


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A migrated database of its own (its URL), dropped afterwards."""
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


@contextmanager
def postgres_database() -> Iterator[str]:
    """A migrated database of its own for synchronous code (its URL), dropped afterwards."""
    name = f"auth_bench_{uuid.uuid4().hex}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        asyncio.run(MIGRATIONS.upgrade(url))
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_settings(database_url: str) -> Settings:
    """auth as the refresh benchmarks run it: cheap argon2id, limits out of the way."""
    return Settings(**bench_environment(database_url))  # type: ignore[arg-type]


def bench_environment(database_url: str, *, cheap_hashing: bool = True) -> dict[str, str]:
    """auth's settings for a benchmark, as the environment of its process: limits out of the
    way, no mailed link needed to sign in; argon2id cheap unless it is what is measured."""
    environment = {
        "DATABASE_URL": database_url,
        "ISSUER": "https://auth.bench.test",
        "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": "100000/minute",
        "LOGIN_RATE_LIMIT_PER_IP": "100000/minute",
        "LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT": "100000/minute",
        "REFRESH_RATE_LIMIT_PER_IP": "10000000/minute",
        "EMAIL_VERIFICATION": "optional",
        "SMTP_URL": "smtp://127.0.0.1:9",
    }
    if cheap_hashing:
        environment |= {
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "1024",
            "PASSWORD_HASH_PARALLELISM": "1",
        }
    return environment


async def _seed_sessions(database_url: str, count: int) -> None:
    """`count` live mobile sessions of 1/100 as many users, each with its refresh token and an
    audit row, as a platform that size would hold; then ANALYZE, as autovacuum would."""
    users = max(1, count // 100)
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await connection.execute(
            """
            INSERT INTO users (id, email, email_normalized, password_hash, roles,
                               token_version, created_at, email_verified_at)
            SELECT md5('u' || i)::uuid, 'seed' || i || '@example.com',
                   'seed' || i || '@example.com', 'unusable', '["user"]', 1, now(), now()
            FROM generate_series(0, $1 - 1) AS i
            """,
            users,
        )
        await connection.execute(
            """
            INSERT INTO sessions (id, user_id, client_id, user_agent, ip, created_at,
                                  last_used_at, authenticated_at, acr, amr)
            SELECT md5('s' || i)::uuid::text, md5('u' || (i % $2))::uuid, 'mobile',
                   'seed', '127.0.0.1', now(), now(), now(), 'urn:tessera:acr:pwd', '["pwd"]'
            FROM generate_series(1, $1) AS i
            """,
            count,
            users,
        )
        await connection.execute(
            """
            INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at)
            SELECT sha256(('t' || i)::bytea), md5('s' || i)::uuid::text, 1, now()
            FROM generate_series(1, $1) AS i
            """,
            count,
        )
        await connection.execute(
            """
            INSERT INTO audit_log (occurred_at, event, user_id, session_id, client_id, ip)
            SELECT now(), 'login', md5('u' || (i % $2))::uuid::text, md5('s' || i)::uuid::text,
                   'mobile', '127.0.0.1'
            FROM generate_series(1, $1) AS i
            """,
            count,
            users,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _register(server: ServedProcess) -> None:
    response = httpx.post(
        f"{server.url}/v1/users", json={"email": EMAIL, "password": PASSWORD}, timeout=60
    )
    response.raise_for_status()


@contextmanager
def auth_server(
    database_url: str, redis_url: str, *, cheap_hashing: bool = True
) -> Iterator[ServedProcess]:
    """auth serving `database_url` in a process of its own, its rate limits in Redis as in
    production (docker-compose.yml), with the bench user registered."""
    port = free_port()
    environment = bench_environment(database_url, cheap_hashing=cheap_hashing)
    environment |= {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "REDIS_URL": redis_url}
    with served(["-m", "auth_service", "serve"], env=environment, port=port) as server:
        _register(server)
        yield server


@dataclass
class Measured:
    """CPU seconds spent and requests served, summed over rounds.

    A server's CPU per request is net of what it spends idle (auth's background loops: the
    key ring's reload every second, the mail worker, maintenance), measured before the rounds
    at the same place: that is time's cost, not the requests', and the sign-only floor has
    none. `raw_ms_per_request` keeps it in.
    """

    requests: float = 0
    failures: float = 0
    server_cpu: float = 0
    database_cpu: float = 0
    seconds: float = 0
    idle_cpu_per_second: float = 0

    def measure_idle(self, server: ServedProcess, seconds: float = IDLE_SECONDS) -> None:
        before, started = server.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        self.idle_cpu_per_second = (server.cpu_seconds() - before) / (time.monotonic() - started)

    def add_round(
        self,
        client: LoadClient,
        server: ServedProcess,
        backends: PostgresBackends | None = None,
        seconds: float = ROUND_SECONDS,
    ) -> None:
        database_before = backends.snapshot() if backends else {}
        server_before, started = server.cpu_seconds(), time.monotonic()
        counts = client.round(seconds)
        self.server_cpu += server.cpu_seconds() - server_before
        self.seconds += time.monotonic() - started
        if backends:
            self.database_cpu += backends.spent(database_before, backends.snapshot())
        self.requests += counts["requests"]
        self.failures += counts["failures"]

    def ms_per_request(self, *, with_database: bool = False) -> float:
        spent = self.server_cpu - self.idle_cpu_per_second * self.seconds
        spent += self.database_cpu if with_database else 0
        return 1000 * spent / max(self.requests, 1)

    def raw_ms_per_request(self) -> float:
        return 1000 * self.server_cpu / max(self.requests, 1)


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def _contended_refresh(server: ServedProcess, database_url: str) -> dict[str, float]:
    """32 callers refresh one token at once; then every family is checked for duplicates."""
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        body = {"email": EMAIL, "password": PASSWORD, "client_id": "mobile"}
        token = (await http.post("/v1/auth/login", json=body)).json()["refresh_token"]
        form = {"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": token}
        answers = await asyncio.gather(
            *(http.post("/v1/auth/token", data=form) for _ in range(CLIENTS))
        )
        successors = {a.json()["refresh_token"] for a in answers if a.status_code == 200}
        form["refresh_token"] = next(iter(successors), "")
        alive = len(successors) == 1 and (await http.post("/v1/auth/token", data=form)).is_success
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch("SELECT session_id, generation FROM refresh_tokens")
    finally:
        await connection.close()
    per_generation = Counter((row["session_id"], row["generation"]) for row in rows)
    return {
        "duplicate_successors": float(
            sum(n - 1 for n in per_generation.values()) + max(0, len(successors) - 1)
        ),
        "contended_refresh_errors": float(sum(a.status_code != 200 for a in answers)),
        "contended_family_revoked": float(not alive),
    }


def _rotations() -> dict[str, float]:
    few, many, floor = Measured(), Measured(), Measured()
    with ExitStack() as stack:
        few_url = stack.enter_context(postgres_database())
        many_url = stack.enter_context(postgres_database())
        asyncio.run(_seed_sessions(few_url, FEW_SESSIONS))
        asyncio.run(_seed_sessions(many_url, MANY_SESSIONS))
        redis = stack.enter_context(LocalRedis(port=free_port()))
        few_server = stack.enter_context(auth_server(few_url, redis.url))
        many_server = stack.enter_context(auth_server(many_url, redis.url))
        floor_port = free_port()
        floor_server = stack.enter_context(
            served(["-m", "bench.sign_only", "--port", str(floor_port)], env={}, port=floor_port)
        )
        user = ("--email", EMAIL, "--password", PASSWORD, "--clients", str(CLIENTS))
        few_load = stack.enter_context(load_client("refresh", "--url", few_server.url, *user))
        many_load = stack.enter_context(load_client("refresh", "--url", many_server.url, *user))
        floor_load = stack.enter_context(
            load_client("sign", "--url", floor_server.url, "--clients", str(CLIENTS))
        )
        few_backends = PostgresBackends(POSTGRES_ADMIN_DSN, _database_name(few_url))
        many_backends = PostgresBackends(POSTGRES_ADMIN_DSN, _database_name(many_url))
        for measured, server in ((few, few_server), (many, many_server), (floor, floor_server)):
            measured.measure_idle(server)
        for _ in range(ROUNDS):  # interleaved: each sees the same machine
            few.add_round(few_load, few_server, few_backends)
            many.add_round(many_load, many_server, many_backends)
            floor.add_round(floor_load, floor_server)
        guarantees = asyncio.run(_contended_refresh(few_server, few_url))
    return {
        "rotations_per_s_32_clients": few.requests / (ROUNDS * ROUND_SECONDS),
        "sign_only_endpoint_per_s": floor.requests / (ROUNDS * ROUND_SECONDS),
        "server cpu per rotation (ms)": few.ms_per_request(),
        "the same with auth's idle background loops (ms)": few.raw_ms_per_request(),
        "postgres cpu per rotation (ms)": few.database_cpu * 1000 / max(few.requests, 1),
        "sign-only cpu per request (ms)": floor.ms_per_request(),
        "ratio cpu rotation to signed token (target <= 2.5)": (
            few.ms_per_request() / floor.ms_per_request()
        ),
        "cpu per rotation at 1M sessions (ms)": many.ms_per_request(with_database=True),
        "cpu per rotation at 1k sessions (ms)": few.ms_per_request(with_database=True),
        "ratio 1M sessions to 1k (target <= 1.10)": (
            many.ms_per_request(with_database=True) / few.ms_per_request(with_database=True)
        ),
        "failed_refreshes": few.failures + many.failures,
        **guarantees,
    }


def _raw_verifications_per_second(seconds: float) -> float:
    """argon2id verifications/s at auth's default parameters, on as many threads as auth's
    hashing pool, kept as busy as a login load keeps it."""
    defaults = Settings.model_fields
    parameters = Argon2Parameters(
        time_cost=defaults["PASSWORD_HASH_TIME_COST"].default,
        memory_kib=defaults["PASSWORD_HASH_MEMORY_KIB"].default,
        parallelism=defaults["PASSWORD_HASH_PARALLELISM"].default,
    )
    hasher = PasswordHasher(parameters, workers=defaults["PASSWORD_HASH_WORKERS"].default)

    async def measure() -> float:
        stored = await hasher.hash(PASSWORD)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        done = 0

        async def verifier() -> None:
            nonlocal done
            while loop.time() < deadline:
                await hasher.verify(stored, PASSWORD)
                done += 1

        started = loop.time()
        await asyncio.gather(*(verifier() for _ in range(LOGIN_CLIENTS)))
        return done / (loop.time() - started)

    try:
        return asyncio.run(measure())
    finally:
        hasher.close()


def _logins() -> dict[str, float]:
    logins = Measured()
    hashes: list[float] = []
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        redis = stack.enter_context(LocalRedis(port=free_port()))
        server = stack.enter_context(auth_server(url, redis.url, cheap_hashing=False))
        user = ("--email", EMAIL, "--password", PASSWORD, "--clients", str(LOGIN_CLIENTS))
        client = stack.enter_context(load_client("login", "--url", server.url, *user))
        client.round(1.0)  # warm-up
        for _ in range(ROUNDS // 2):  # interleaved with the raw rate
            logins.add_round(client, server, seconds=LOGIN_ROUND_SECONDS)
            hashes.append(_raw_verifications_per_second(LOGIN_ROUND_SECONDS))
    login_rate = logins.requests / (len(hashes) * LOGIN_ROUND_SECONDS)
    hash_rate = sum(hashes) / len(hashes)
    return {
        "logins_per_s": login_rate,
        "argon2id_verifications_per_s": hash_rate,
        "ratio logins to argon2id hashes (target >= 0.8)": login_rate / hash_rate,
        "failed_logins": logins.failures,
    }


def run() -> dict[str, float]:
    return {**_rotations(), **_logins()}


if __name__ == "__main__":
    for measure, value in run().items():
        print(f"{measure:52} {value:12,.2f}")
