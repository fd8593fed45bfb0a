"""The load generator of `bench.refresh`, a process of its own so its CPU is not the server's.

    python -m bench.load_client refresh --url http://127.0.0.1:P --clients 32 --email E --password W
    python -m bench.load_client login   --url http://127.0.0.1:P --clients 4  --email E --password W
    python -m bench.load_client sign    --url http://127.0.0.1:P --clients 32

It prepares (refresh: signs each client in as the mobile app and rotates once, to warm the
server), prints `ready`, then runs one timed round per line read from stdin (the line is the
round's length in seconds) and answers each with one JSON line: `requests` that succeeded and
`failures`. A refresh client keeps its latest token from round to round. EOF ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

Call = Callable[[httpx.AsyncClient], Awaitable[bool]]


async def _login(http: httpx.AsyncClient, email: str, password: str) -> str | None:
    body = {"email": email, "password": password, "client_id": "mobile"}
    response = await http.post("/v1/auth/login", json=body)
    token: str | None = response.json().get("refresh_token") if response.is_success else None
    return token


class Refresher:
    """One mobile app: rotates its refresh token, keeping the latest."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def __call__(self, http: httpx.AsyncClient) -> bool:
        form = {"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": self.token}
        response = await http.post("/v1/auth/token", data=form)
        if response.status_code != 200:
            return False
        self.token = response.json()["refresh_token"]
        return True


async def _prepare(arguments: argparse.Namespace, http: httpx.AsyncClient) -> list[Call]:
    if arguments.mode == "sign":

        async def sign(http: httpx.AsyncClient) -> bool:
            return (await http.post("/sign")).status_code == 200

        return [sign] * arguments.clients
    if arguments.mode == "login":

        async def login(http: httpx.AsyncClient) -> bool:
            return await _login(http, arguments.email, arguments.password) is not None

        return [login] * arguments.clients
    refreshers = []
    for _ in range(arguments.clients):
        token = await _login(http, arguments.email, arguments.password)
        if token is None:
            raise SystemExit("the load client could not sign in")
        refresher = Refresher(token)
        if not await refresher(http):  # warm-up: connections, statement caches
            raise SystemExit("the load client's first refresh failed")
        refreshers.append(refresher)
    return list(refreshers)


async def _round(http: httpx.AsyncClient, calls: list[Call], seconds: float) -> dict[str, int]:
    deadline = time.perf_counter() + seconds
    succeeded = failed = 0

    async def loop(call: Call) -> None:
        nonlocal succeeded, failed
        while time.perf_counter() < deadline:
            if await call(http):
                succeeded += 1
            else:
                failed += 1
                return  # a refused refresh token is spent: this client stops

    await asyncio.gather(*(loop(call) for call in calls))
    return {"requests": succeeded, "failures": failed}


async def main(arguments: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=arguments.clients, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=arguments.url, limits=limits, timeout=60) as http:
        calls = await _prepare(arguments, http)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            print(json.dumps(await _round(http, calls, float(line))), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.load_client")
    parser.add_argument("mode", choices=["refresh", "login", "sign"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--email", default="")
    parser.add_argument("--password", default="")
    asyncio.run(main(parser.parse_args()))
