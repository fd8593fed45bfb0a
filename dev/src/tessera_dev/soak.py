"""`make soak`: a bounded chaos run of our own, on PostgreSQL and Redis of its own.

Mobile users (`--users`, 20) log in, refresh, list orders and invoices, place orders with
Idempotency-Keys, pay, cancel and log out against the real services for `--seconds` (180),
while the run restarts auth twice, billing once and PostgreSQL once (a throwaway cluster:
never the machine's own). Clients behave as a good client does: a 503 or a broken connection
is retried after a moment with the same Idempotency-Key or refresh token. Then it lets
pending payments settle and counts, from the clients and from the databases:

    lost sessions          refreshes refused, or tokens refused, for a session nobody ended
    double charges         orders with more than one invoice at billing
    double orders          orders beyond the Idempotency-Keys their owner ever sent
    stuck orders           still payment_pending after the settle period
    errors outside faults  failed attempts (5xx, broken connections) away from every fault

and prints them with the restart durations and each service's memory. It exits 1 when any of
those five is not zero or an auth restart took 5 s or more; `tests/test_soak.py` runs a short
version in `make test`.

    python -m tessera_dev.soak                  # 180 s, 20 users
    python -m tessera_dev.soak --seconds 40 --users 6
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import psutil

from tessera_dev.harness import RunningPlatform, free_port_plan, free_ports
from tessera_dev.local_servers import LocalPostgres, LocalRedis
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, SERVICE_NAMES, describe_platform

FAULT_GRACE_SECONDS = 3.0
"""How long after a fault ends its effects may still show (pools reconnecting, watchers
re-watching, a retry's backoff): errors this close to a fault count as the fault's."""
OPERATION_DEADLINE_SECONDS = 30.0
"""A client gives up on one operation after retrying it this long."""
AUTH_RESTART_LIMIT_SECONDS = 5.0
ORDER = {"currency": "EUR"}
SKUS = ("MUG", "TEA", "SOCKS", "POSTER")


SOAK_REFUND_MAX_AGE_SECONDS = 86_400
"""Refunds need no step-up in the soak (see `run_soak`)."""


@dataclass
class Fault:
    """One injected fault: what, when it began and when the component was back (monotonic),
    and, for a restart, how long the stop took and its exit code."""

    name: str
    started: float
    recovered: float = 0.0
    stop_seconds: float | None = None
    exit_code: int | None = None

    @property
    def back_in(self) -> float:
        return self.recovered - self.started

    @property
    def window(self) -> tuple[float, float]:
        """When errors are this fault's: from just before it to a grace after recovery."""
        return self.started - 0.5, self.recovered + FAULT_GRACE_SECONDS


@dataclass
class Journal:
    """Everything the clients saw, with times, for the report."""

    errors: list[tuple[float, str]] = field(default_factory=list)
    lost_sessions: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    keys_sent: dict[str, set[str]] = field(default_factory=dict)
    """owner id -> the Idempotency-Keys that owner sent."""
    gave_up: int = 0

    def error(self, what: str) -> None:
        self.errors.append((time.monotonic(), what))


class SoakUser:
    """One mobile user: a session (refresh token in "secure storage"), orders, retries."""

    def __init__(
        self, index: int, urls: dict[str, str], journal: Journal, rng: random.Random
    ) -> None:
        self.index = index
        self.urls = urls
        self.journal = journal
        self.rng = rng
        self.email = f"soak-{index}-{secrets.token_hex(4)}@example.org"
        self.password = secrets.token_urlsafe(12)
        self.user_id = ""
        self.access_token = ""
        self.refresh_token = ""
        self.orders: dict[str, str] = {}
        """order id -> its last known status."""
        self.http = httpx.AsyncClient(timeout=15)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def run(self, until: float) -> None:
        try:
            await self._register()
            await self._log_in()
            while time.monotonic() < until:
                await self.rng.choice(self._actions)()
                await asyncio.sleep(self.rng.uniform(0.1, 0.3))
        finally:
            await self.http.aclose()

    @property
    def _actions(self) -> list[Callable[[], Awaitable[None]]]:
        weights = [
            (self._refresh, 6),
            (self._list, 6),
            (self._place, 5),
            (self._pay, 2),
            (self._cancel, 1),
            (self._log_out_and_in, 1),
        ]
        return [action for action, weight in weights for _ in range(weight)]

    async def _call(
        self, op: str, method: str, url: str, done: Callable[[httpx.Response], bool], **kw: Any
    ) -> httpx.Response | None:
        """The request, retried (the same one: same key, same token) while the answer is a
        503, a 409 "in progress" or a broken connection; None when it never got through."""
        deadline = time.monotonic() + OPERATION_DEADLINE_SECONDS
        while True:
            self.journal.requests[op] += 1
            try:
                answer = await self.http.request(method, url, **kw)
            except httpx.TransportError as error:
                self.journal.error(f"{op}: {type(error).__name__}")
            else:
                if done(answer):
                    return answer
                if answer.status_code >= 500:
                    self.journal.error(f"{op}: {answer.status_code}")
                elif answer.status_code != 409:  # 409: the first attempt is still running
                    return answer
            if time.monotonic() > deadline:
                self.journal.gave_up += 1
                return None
            await asyncio.sleep(0.25)

    async def _register(self) -> None:
        body = {"email": self.email, "password": self.password}
        # 202 and no id (alike for a taken address): the id comes with the first login
        await self._call("register", "POST", f"{self.urls['auth']}/v1/users", _ok, json=body)

    async def _log_in(self) -> None:
        body = {"email": self.email, "password": self.password, "client_id": "mobile"}
        answer = await self._call(
            "login", "POST", f"{self.urls['auth']}/v1/auth/login", _ok, json=body
        )
        if answer is not None and answer.status_code == 200:
            self.access_token = answer.json()["access_token"]
            self.refresh_token = answer.json()["refresh_token"]
            if not self.user_id:  # registration does not say it (202 alike for a taken address)
                claims = jwt.decode(self.access_token, options={"verify_signature": False})
                self.user_id = claims["sub"]
                self.journal.keys_sent.setdefault(self.user_id, set())

    async def _refresh(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": "mobile",
            "refresh_token": self.refresh_token,
        }
        answer = await self._call(
            "refresh", "POST", f"{self.urls['auth']}/v1/auth/token", _ok, data=form
        )
        if answer is None:
            return
        if answer.status_code == 200:
            self.access_token = answer.json()["access_token"]
            self.refresh_token = answer.json()["refresh_token"]
        else:  # the session was ended although nobody logged it out
            self.journal.lost_sessions.append(f"{self.email}: refresh {answer.status_code}")
            await self._log_in()

    async def _list(self) -> None:
        orders = await self._call(
            "list", "GET", f"{self.urls['orders']}/v1/orders", _ok, headers=self.bearer
        )
        if orders is not None and orders.status_code == 401:
            self.journal.lost_sessions.append(f"{self.email}: orders answered 401")
            await self._log_in()
        elif orders is not None and orders.status_code == 200:
            for order in orders.json()["items"]:
                self.orders[order["id"]] = order["status"]
        if self.rng.random() < 0.3:
            await self._call(
                "invoices", "GET", f"{self.urls['billing']}/v1/invoices", _ok, headers=self.bearer
            )

    async def _place(self) -> None:
        key = secrets.token_hex(8)
        self.journal.keys_sent.setdefault(self.user_id, set()).add(key)
        items = [
            {
                "sku": self.rng.choice(SKUS),
                "quantity": self.rng.randint(1, 3),
                "unit_price_cents": 150,
            }
        ]
        answer = await self._call(
            "place",
            "POST",
            f"{self.urls['orders']}/v1/orders",
            _ok,
            json={**ORDER, "items": items},
            headers={**self.bearer, "Idempotency-Key": key},
        )
        if answer is not None and answer.status_code in (201, 202):
            self.orders[answer.json()["id"]] = answer.json()["status"]

    async def _pay(self) -> None:
        unpaid = [o for o, s in self.orders.items() if s in ("payment_pending", "payment_failed")]
        if unpaid:
            await self._act_on(self.rng.choice(unpaid), "pay")

    async def _cancel(self) -> None:
        paid = [order for order, status in self.orders.items() if status == "paid"]
        if paid:
            await self._act_on(self.rng.choice(paid), "cancel")

    async def _act_on(self, order_id: str, action: str) -> None:
        url = f"{self.urls['orders']}/v1/orders/{order_id}/{action}"
        answer = await self._call(action, "POST", url, _ok, headers=self.bearer)
        if answer is not None and answer.status_code == 200:
            self.orders[order_id] = answer.json()["status"]

    async def _log_out_and_in(self) -> None:
        await self._call(
            "logout",
            "POST",
            f"{self.urls['auth']}/v1/auth/logout",
            lambda answer: answer.status_code in (204, 401),  # 401: the retry after it worked
            headers=self.bearer,
            json={"refresh_token": self.refresh_token},
        )
        await self._log_in()


def _ok(answer: httpx.Response) -> bool:
    return answer.status_code < 500 and answer.status_code != 409


@dataclass
class SoakReport:
    seconds: float
    users: int
    requests: int
    faults: list[Fault]
    lost_sessions: int
    double_charges: int
    double_orders: int
    stuck_orders: int
    errors_outside_faults: list[str]
    errors_inside_faults: int
    orders: int
    invoices: int
    memory: dict[str, tuple[float, float, bool]]
    """service -> (RSS MiB at start, RSS MiB at the end, restarted meanwhile)."""

    def failures(self) -> list[str]:
        problems = [
            f"{count} {what}"
            for what, count in (
                ("lost sessions", self.lost_sessions),
                ("double charges", self.double_charges),
                ("double orders", self.double_orders),
                ("stuck orders", self.stuck_orders),
                ("errors outside fault windows", len(self.errors_outside_faults)),
            )
            if count
        ]
        for fault in self.faults:
            slow = fault.back_in >= AUTH_RESTART_LIMIT_SECONDS or fault.exit_code != 0
            if fault.name.startswith("restart auth") and slow:
                problems.append(f"{fault.name}: {fault.back_in:.1f} s, exit {fault.exit_code}")
        return problems

    def render(self) -> str:
        lines = [
            f"soak: {self.users} users for {self.seconds:.0f} s, {self.requests} requests, "
            f"{self.orders} orders, {self.invoices} invoices",
            f"  lost sessions                 {self.lost_sessions}",
            f"  double charges                {self.double_charges}",
            f"  double orders                 {self.double_orders}",
            f"  orders pending after settling {self.stuck_orders}",
            f"  errors outside fault windows  {len(self.errors_outside_faults)}",
            f"  errors inside fault windows   {self.errors_inside_faults} (retried)",
            "  faults:",
        ]
        for fault in self.faults:
            stop = "" if fault.stop_seconds is None else f", stopped in {fault.stop_seconds:.2f} s"
            code = "" if fault.exit_code is None else f" (exit {fault.exit_code})"
            lines.append(f"    {fault.name:<18} back in {fault.back_in:.2f} s{stop}{code}")
        lines.append("  memory (RSS MiB, start -> end):")
        for name, (start, end, restarted) in self.memory.items():
            note = " (restarted: the end is its new process)" if restarted else ""
            lines.append(f"    {name:<8} {start:7.1f} -> {end:7.1f}  {end - start:+.1f}{note}")
        lines.extend(f"  outside: {error}" for error in self.errors_outside_faults[:20])
        return "\n".join(lines)


class Soak:
    """The run: servers, platform, users, faults, settling, counting."""

    def __init__(self, workdir: Path, *, seconds: float, users: int, settle_seconds: float) -> None:
        self.workdir = workdir
        self.seconds = seconds
        self.users = users
        self.settle_seconds = settle_seconds
        self.faults: list[Fault] = []
        self.journal = Journal()

    def run(self) -> SoakReport:
        postgres_port, redis_port = free_ports(2)
        with (
            _cluster_home() as postgres_home,
            LocalPostgres(postgres_home, port=postgres_port) as postgres,
            LocalRedis(port=redis_port, log_path=self.workdir / "redis.log") as redis,
        ):
            postgres.provision_service_databases()
            plan = describe_platform(
                ports=free_port_plan(),
                database_urls=postgres.service_database_urls(),
                extra_settings={
                    "auth": self._auth_settings(redis.url),
                    # users sign in once and cancel orders for minutes: the soak is about
                    # faults, not step-up (which its own tests cover)
                    "orders": {"REFUND_MAX_AGE_SECONDS": str(SOAK_REFUND_MAX_AGE_SECONDS)},
                    "billing": {"REFUND_MAX_AGE_SECONDS": str(SOAK_REFUND_MAX_AGE_SECONDS)},
                },
            )
            with RunningPlatform.start(plan, log_dir=self.workdir / "logs") as platform:
                return self._run_on(platform, postgres)

    def _auth_settings(self, redis_url: str) -> dict[str, str]:
        return {
            "REDIS_URL": redis_url,
            "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_PARALLELISM": "1",
            **BULK_USERS_AUTH_SETTINGS,
        }

    def _run_on(self, platform: RunningPlatform, postgres: LocalPostgres) -> SoakReport:
        urls = {name: platform.plan.service(name).base_url for name in SERVICE_NAMES}
        memory_at_start = _memory(platform)
        started = time.monotonic()
        until = started + self.seconds
        schedule = [
            (0.2, "restart auth (1)", lambda: self._restart(platform, "auth")),
            (0.4, "restart billing", lambda: self._restart(platform, "billing")),
            (0.6, "restart auth (2)", lambda: self._restart(platform, "auth")),
            (0.8, "restart postgres", lambda: self._restart_postgres(postgres)),
        ]

        async def load_and_faults() -> None:
            rng = random.Random(20261201)
            users = [
                SoakUser(i, urls, self.journal, random.Random(rng.random()))
                for i in range(self.users)
            ]
            tasks = [asyncio.create_task(user.run(until)) for user in users]
            for fraction, name, fault in schedule:
                await asyncio.sleep(max(0.0, started + fraction * self.seconds - time.monotonic()))
                self.faults.append(Fault(name, time.monotonic()))
                await asyncio.to_thread(fault)
                self.faults[-1].recovered = time.monotonic()
            await asyncio.gather(*tasks)

        asyncio.run(load_and_faults())
        restarted = {"auth", "billing"}
        memory_at_end = _memory(platform)
        memory = {
            name: (memory_at_start[name], memory_at_end[name], name in restarted)
            for name in SERVICE_NAMES
        }
        stuck = asyncio.run(self._settle(postgres))
        return asyncio.run(self._count(postgres, stuck, memory))

    def _restart(self, platform: RunningPlatform, name: str) -> None:
        began = time.monotonic()
        code = platform.stop_process(name)
        self.faults[-1].stop_seconds = time.monotonic() - began
        self.faults[-1].exit_code = code
        service = platform.plan.service(name)
        platform.start_process(
            name, service.serve_argv, service.settings, ready_url=service.health_url
        )

    def _restart_postgres(self, postgres: LocalPostgres) -> None:
        postgres.restart()

    async def _settle(self, postgres: LocalPostgres) -> int:
        """Wait (up to the settle period) until no order is payment_pending; how many are."""
        deadline = time.monotonic() + self.settle_seconds
        while True:
            pending = await _scalar(
                postgres, "orders", "SELECT count(*) FROM orders WHERE status = 'payment_pending'"
            )
            if pending == 0 or time.monotonic() > deadline:
                return pending
            await asyncio.sleep(0.5)

    async def _count(
        self, postgres: LocalPostgres, stuck: int, memory: dict[str, tuple[float, float, bool]]
    ) -> SoakReport:
        double_charges = await _scalar(
            postgres,
            "billing",
            "SELECT count(*) FROM (SELECT order_id FROM invoices GROUP BY order_id "
            "HAVING count(*) > 1) AS doubled",
        )
        per_owner = await _rows(
            postgres, "orders", "SELECT owner_id, count(*) FROM orders GROUP BY owner_id"
        )
        double_orders = sum(
            max(0, int(count) - len(self.journal.keys_sent.get(owner, set())))
            for owner, count in per_owner
        )
        windows = [fault.window for fault in self.faults]
        outside = [
            f"{at - self.faults[0].started if self.faults else at:+.1f} s {what}"
            for at, what in self.journal.errors
            if not any(start <= at <= end for start, end in windows)
        ]
        return SoakReport(
            seconds=self.seconds,
            users=self.users,
            requests=sum(self.journal.requests.values()),
            faults=self.faults,
            lost_sessions=len(self.journal.lost_sessions),
            double_charges=double_charges,
            double_orders=double_orders,
            stuck_orders=stuck,
            errors_outside_faults=outside,
            errors_inside_faults=len(self.journal.errors) - len(outside),
            orders=sum(int(count) for _, count in per_owner),
            invoices=await _scalar(postgres, "billing", "SELECT count(*) FROM invoices"),
            memory=memory,
        )


def _memory(platform: RunningPlatform) -> dict[str, float]:
    """Each service's resident memory now, in MiB."""
    return {
        name: psutil.Process(platform.processes[name].process.pid).memory_info().rss / 2**20
        for name in SERVICE_NAMES
    }


@contextlib.asynccontextmanager
async def _connection(postgres: LocalPostgres, database: str) -> Any:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", database=database
    )
    try:
        yield connection
    finally:
        await connection.close()


async def _scalar(postgres: LocalPostgres, database: str, query: str) -> int:
    async with _connection(postgres, database) as connection:
        return int(await connection.fetchval(query))


async def _rows(postgres: LocalPostgres, database: str, query: str) -> list[tuple[str, int]]:
    async with _connection(postgres, database) as connection:
        return [(row[0], int(row[1])) for row in await connection.fetch(query)]


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tessera-soak-") as directory:
        yield Path(directory)


@contextlib.contextmanager
def _cluster_home() -> Iterator[Path]:
    """A directory of its own in the temporary directory for the cluster (as root, the
    postgres user owns it, and must reach it: not inside our private work directory)."""
    home = Path(tempfile.mkdtemp(prefix="tessera-soak-postgres-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_soak(*, seconds: float, users: int, settle_seconds: float) -> SoakReport:
    """One soak in a temporary directory (cluster, Redis, logs), removed afterwards."""
    with _workdir() as workdir:
        return Soak(workdir, seconds=seconds, users=users, settle_seconds=settle_seconds).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=180, help="how long the load runs")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--settle-seconds", type=float, default=60)
    args = parser.parse_args(argv)
    report = run_soak(seconds=args.seconds, users=args.users, settle_seconds=args.settle_seconds)
    print(report.render())
    failures = report.failures()
    print("soak passed" if not failures else f"soak FAILED: {'; '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
