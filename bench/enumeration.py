"""Benchmark: registration and password reset take the same time whoever's address it is.

The real auth app (in process, over httpx's ASGI transport) on a fresh PostgreSQL database,
with production argon2id parameters (the hash is most of a registration's time) and a real SMTP
catcher: 50 interleaved trials of each pair, one request at a time, in random order within
each trial:

- `POST /v1/users` with a new address vs one that is already registered;
- `POST /v1/auth/password-reset` for a registered address vs one that has none.

The measure is the ratio of the medians, larger over smaller (target <= 1.10). Both answers
are 202 with the same body; the mail worker does the address-dependent part afterwards.

    uv run --frozen python -m bench.enumeration
"""

from __future__ import annotations

import asyncio
import base64
import functools
import random
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from auth_service.config import Settings
from auth_service.main import create_app
from tessera_dev.mail_catcher import MailCatcher

from bench.refresh import fresh_postgres_database

TRIALS = 50
PASSWORD = "correct horse battery"


def _ratio(first: list[float], second: list[float]) -> float:
    a, b = statistics.median(first), statistics.median(second)
    return max(a, b) / min(a, b)


async def _timed(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    started = time.perf_counter()
    answer = await call()
    elapsed = time.perf_counter() - started
    if answer.status_code != 202:
        raise RuntimeError(f"{answer.request.url.path} answered {answer.status_code}")
    return elapsed


async def _measure(database_url: str, mail: MailCatcher) -> dict[str, float]:
    settings = Settings(
        DATABASE_URL=database_url,
        ISSUER="https://auth.bench.test",
        KEY_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        SMTP_URL=mail.smtp_url,
        REGISTER_RATE_LIMIT_PER_IP="100000/minute",
        MAIL_REQUEST_RATE_LIMIT_PER_IP="100000/minute",
        PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS="100000/minute",
        REGISTRATION_WARNING_RATE_LIMIT_PER_ADDRESS="100000/minute",
    )
    app = create_app(settings)
    timings: dict[str, list[float]] = {"new": [], "taken": [], "known": [], "unknown": []}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://auth.bench.test"
        ) as http,
    ):
        taken = "taken@example.com"
        await http.post("/v1/users", json={"email": taken, "password": PASSWORD})
        for warm_up in range(3):  # connections, statement caches, argon2's first allocation
            await http.post("/v1/users", json={"email": f"w{warm_up}@x.test", "password": PASSWORD})
        for trial in range(TRIALS):
            requests = {  # path and body of each kind, this trial
                "new": ("/v1/users", {"email": f"new-{trial}@example.com", "password": PASSWORD}),
                "taken": ("/v1/users", {"email": taken, "password": PASSWORD}),
                "known": ("/v1/auth/password-reset", {"email": taken}),
                "unknown": ("/v1/auth/password-reset", {"email": f"nobody-{trial}@x.test"}),
            }
            calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                kind: functools.partial(http.post, path, json=body)
                for kind, (path, body) in requests.items()
            }
            order = list(calls)
            random.shuffle(order)
            for kind in order:
                timings[kind].append(await _timed(calls[kind]))
    median_ms = {kind: statistics.median(values) * 1000 for kind, values in timings.items()}
    return {
        "register new, median (ms)": median_ms["new"],
        "register taken, median (ms)": median_ms["taken"],
        "ratio register new vs taken (target <= 1.10)": _ratio(timings["new"], timings["taken"]),
        "reset known, median (ms)": median_ms["known"],
        "reset unknown, median (ms)": median_ms["unknown"],
        "ratio reset known vs unknown (target <= 1.10)": _ratio(
            timings["known"], timings["unknown"]
        ),
    }


async def _run() -> dict[str, float]:
    async with MailCatcher(port=0) as mail, fresh_postgres_database() as url:
        return await _measure(url, mail)


def run() -> dict[str, float]:
    return asyncio.run(_run())


if __name__ == "__main__":
    for measure, value in run().items():
        print(f"{measure:48} {value:10.2f}")
