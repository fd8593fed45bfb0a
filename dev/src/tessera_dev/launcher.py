"""`make run`: the whole platform as local processes in the foreground; Ctrl-C stops them all.

Creates the var directory, writes fresh random service-client secrets into it (files of mode
0600 that auth and each service read; never printed), migrates each service's SQLite database,
starts the development inbox (`tessera_dev.mail_catcher`: SMTP 127.0.0.1:1025, inbox
http://127.0.0.1:8025), auth, orders, billing and the dev gateway with the settings of
`tessera_dev.platform`, prefixes their log lines, waits for every `/readyz`, and prints the
URLs and what to do next. SIGINT or SIGTERM stops every child gracefully (SIGTERM, then SIGKILL
after a grace period); if one child dies, the others are stopped and the launcher exits non-zero.

On a terminal every process logs compact lines for people (`LOG_FORMAT=console`: the children's
stdout is a pipe to the launcher, so they cannot tell for themselves); otherwise, as in compose,
JSON lines. `--log-format` chooses either way.

Tests run it on other ports: `python -m tessera_dev.launcher --port-base 41000 --var-dir /tmp/x`
(or `TESSERA_DEV_PORT_BASE` / `TESSERA_DEV_VAR_DIR`).

`--db postgres` (`make run DB=postgres`) runs the same services on PostgreSQL and Redis instead:
a cluster of its own (`tessera_dev.local_servers`) with compose's databases and roles from
`deploy/postgres/init.sql`, on 127.0.0.1:55432, and a Redis on 127.0.0.1:56379 (with
`--port-base B`: B+7 and B+8); the cluster keeps its data between runs and stops with the
launcher.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from tessera.logging import LogFormat

from tessera_dev.local_servers import LocalPostgres, LocalRedis, LocalServerError
from tessera_dev.platform import (
    Platform,
    PortPlan,
    ServiceProcess,
    describe_platform,
    sqlite_database_urls,
)
from tessera_dev.processes import child_environment, local_argv
from tessera_dev.service_clients import generate_service_client_secrets

COLOURS = {
    "mail": "34",
    "auth": "35",
    "orders": "36",
    "billing": "33",
    "gateway": "32",
    "launcher": "1",
}
STOP_GRACE_SECONDS = 10.0


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]


class Console:
    """Writes `name | line` for every child's output; colours only on a terminal."""

    def __init__(self, names: Sequence[str]) -> None:
        self.width = max(len(n) for n in names)
        self.colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def line(self, name: str, text: str) -> None:
        label = name.ljust(self.width)
        if self.colour:
            label = f"\033[{COLOURS.get(name, '0')}m{label}\033[0m"
        sys.stdout.write(f"{label} | {text}\n")
        sys.stdout.flush()

    async def pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self.line(name, raw.decode(errors="replace").rstrip("\n"))


async def _spawn(
    console: Console, name: str, argv: Sequence[str], settings: Mapping[str, str]
) -> Child:
    process = await asyncio.create_subprocess_exec(
        *local_argv(argv),
        env=child_environment(settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    return Child(name, process, asyncio.create_task(console.pump(name, process.stdout)))


async def _migrate_one(console: Console, service: ServiceProcess) -> bool:
    console.line("launcher", f"migrating {service.name}: {' '.join(service.migrate_argv)}")
    child = await _spawn(console, service.name, service.migrate_argv, service.settings)
    code = await child.process.wait()
    await child.pump
    if code != 0:
        console.line("launcher", f"{service.name} migrate failed with exit code {code}")
    return code == 0


async def _migrate(console: Console, plan: Platform) -> bool:
    """Every service's migrations, concurrently: each has its own database."""
    results = await asyncio.gather(*(_migrate_one(console, s) for s in plan.services))
    return all(results)


async def _wait_ready(urls: Mapping[str, str], children: Sequence[Child], limit: float) -> str:
    """'' when every URL answers 200; else the reason (a child exited, or the time ran out)."""
    pending = dict(urls)
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for child in children:
                if child.process.returncode is not None:
                    return f"{child.name} exited with code {child.process.returncode}"
            for name, url in list(pending.items()):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        del pending[name]
            if time.monotonic() > deadline:
                return f"not ready after {limit:.0f} s: {', '.join(pending)}"
            await asyncio.sleep(0.2)
    return ""


async def _stop(console: Console, children: Sequence[Child]) -> None:
    """SIGTERM every child at once; each says how it stopped (a clean stop is exit 0)."""
    started = time.monotonic()
    running = [child for child in children if child.process.returncode is None]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    for child in children:
        try:
            await asyncio.wait_for(child.process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            console.line("launcher", f"{child.name} did not stop in time; killing it")
            child.process.kill()
            await child.process.wait()
        await child.pump
        if child in running:
            code = child.process.returncode
            took = f"{time.monotonic() - started:.1f} s"
            outcome = f"stopped in {took}" if code == 0 else f"exited with code {code} ({took})"
            console.line("launcher", f"{child.name} {outcome}")


def _banner(plan: Platform, stores: str) -> list[str]:
    """The URLs, then what a newcomer does next (after the start-up logs, so it is seen)."""
    ports = plan.ports
    spa, inbox = f"http://localhost:{ports.gateway}/", f"{plan.mail.inbox_url}/"
    demo = f"make demo DEMO_BASE_URL=http://localhost:{ports.gateway}"
    if ports.mail_http != PortPlan().mail_http:  # the demo looks for make run's inbox
        demo += f" DEMO_INBOX_URL={plan.mail.inbox_url}"
    return [
        f"Tessera is up ({stores}, local processes).",
        f"  gateway + SPA  {spa}",
        f"  auth           http://127.0.0.1:{ports.auth}/docs",
        f"  orders         http://127.0.0.1:{ports.orders}/docs",
        f"  billing HTTP   http://127.0.0.1:{ports.billing}/docs",
        f"  billing gRPC   127.0.0.1:{ports.billing_grpc}",
        f"  inbox          {inbox}  (every mail auth sends; SMTP {plan.mail.smtp_url})",
        "Next:",
        f"  - open {spa} and create an account; its confirmation mail is in the inbox, {inbox}",
        f"  - in another terminal, {demo}: every flow narrated against this platform",
        "    (or `make demo` alone: on a platform of its own)",
        "  - try the APIs on each service's /docs above, or with the README's curl commands",
        "  - Ctrl-C here stops everything",
    ]


def default_log_format(stdout_is_terminal: bool) -> LogFormat:
    """console for a person watching a terminal; JSON for anything reading a pipe or a file."""
    return "console" if stdout_is_terminal else "json"


async def run(
    plan: Platform,
    ready_timeout: float,
    notes: Sequence[str] = (),
    stores: str = "embedded default: SQLite",
) -> int:
    console = Console(["mail", *(s.name for s in plan.services), "gateway", "launcher"])
    for note in notes:
        console.line("launcher", note)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)

    if not await _migrate(console, plan):
        return 1
    if stop_requested.is_set():
        return 0
    mail, gateway = plan.mail, plan.gateway
    children = [await _spawn(console, "mail", mail.serve_argv, mail.settings)]
    children += [await _spawn(console, s.name, s.serve_argv, s.settings) for s in plan.services]
    children.append(await _spawn(console, "gateway", gateway.serve_argv, gateway.settings))
    urls = {"mail": mail.health_url} | {s.name: s.health_url for s in plan.services}
    urls["gateway"] = gateway.health_url

    readiness = asyncio.create_task(_wait_ready(urls, children, ready_timeout))
    interrupted = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({readiness, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    if interrupted.done():
        readiness.cancel()
        console.line("launcher", "stopping")
        await _stop(console, children)
        return 0
    failure = readiness.result()
    if failure:
        console.line("launcher", f"start-up failed: {failure}; stopping the others")
        await _stop(console, children)
        return 1

    for text in _banner(plan, stores):
        console.line("launcher", text)
    exits = [asyncio.create_task(c.process.wait()) for c in children]
    await asyncio.wait({interrupted, *exits}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if not interrupted.done():
        dead = next(c for c in children if c.process.returncode is not None)
        console.line("launcher", f"{dead.name} exited with code {dead.process.returncode}")
        code = 1
    console.line("launcher", "stopping")
    await _stop(console, children)
    interrupted.cancel()
    console.line("launcher", "stopped")
    return code


def keep_private(var_dir: Path) -> None:
    """The var directory holds password hashes, sealed keys and client secrets: it is 0700 and
    every file in it 0600, however an earlier run (or an older version) left them."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    var_dir.chmod(0o700)
    for path in var_dir.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def ensure_key_encryption_key_file(path: Path) -> bool:
    """auth's dev key-encryption key, kept beside the SQLite files (created once, mode 0600);
    True when this call created it.

    auth would create `var/auth-kek` under its cwd itself; naming the file keeps a `--var-dir`
    platform's keys inside that directory.
    """
    if path.exists():
        return False
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.launcher", description=__doc__)
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("TESSERA_DEV_PORT_BASE", "0")) or None,
        help="seven consecutive ports: gateway, auth, orders, billing, gRPC, mail SMTP, inbox "
        "(default: 8000-8003, 50051, 1025, 8025)",
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("TESSERA_DEV_VAR_DIR", "var")),
        help="where the SQLite files live (default: var/)",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="sqlite (the embedded default) or postgres (PostgreSQL + Redis of its own)",
    )
    parser.add_argument("--postgres-port", type=int, help="default 55432 (B+7 with --port-base)")
    parser.add_argument("--redis-port", type=int, help="default 56379 (B+8 with --port-base)")
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument(
        "--log-format",
        choices=("console", "json"),
        default=default_log_format(sys.stdout.isatty()),
        help="how every process logs (default: console on a terminal, else json)",
    )
    args = parser.parse_args(argv)
    ports = PortPlan.from_base(args.port_base) if args.port_base else PortPlan()
    var_dir: Path = args.var_dir.resolve()
    keep_private(var_dir)
    kek_file = var_dir / "auth-kek"
    notes = []
    if ensure_key_encryption_key_file(kek_file):
        notes.append(
            f"generated a development key-encryption key at {kek_file} (mode 0600); it seals "
            "auth's signing keys: production sets KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE"
        )
    auth_settings = {"KEY_ENCRYPTION_KEY_FILE": str(kek_file)}
    with contextlib.ExitStack() as servers:
        if args.db == "postgres":
            postgres_port = args.postgres_port or (args.port_base + 7 if args.port_base else 55432)
            redis_port = args.redis_port or (args.port_base + 8 if args.port_base else 56379)
            try:
                postgres = servers.enter_context(
                    LocalPostgres(postgres_home(var_dir), port=postgres_port)
                )
                postgres.provision_service_databases()
                redis = servers.enter_context(
                    LocalRedis(port=redis_port, log_path=var_dir / "redis.log")
                )
            except LocalServerError as error:
                print(f"launcher | cannot start PostgreSQL and Redis: {error}", file=sys.stderr)
                return 1
            database_urls = postgres.service_database_urls()
            auth_settings["REDIS_URL"] = redis.url
            stores = f"PostgreSQL 127.0.0.1:{postgres_port} and Redis 127.0.0.1:{redis_port}"
            notes.append(f"PostgreSQL keeps its data and log in {postgres.base_dir}")
        else:
            database_urls = sqlite_database_urls(var_dir)
            stores = "embedded default: SQLite"
        plan = describe_platform(
            ports=ports,
            database_urls=database_urls,
            log_format=args.log_format,
            extra_settings={"auth": auth_settings},
            # Fresh per run: nothing outlives the run that could authenticate as a service.
            service_clients=generate_service_client_secrets(var_dir),
        )
        return asyncio.run(run(plan, args.ready_timeout, notes, stores))


def postgres_home(var_dir: Path) -> Path:
    """Where `--db postgres` keeps its cluster: `var/postgres`; as root (PostgreSQL then runs
    as the postgres user, who cannot enter the private var/), a directory made with a random
    name under /var/tmp, whose path `var/postgres-home` remembers for the next run."""
    if os.geteuid() != 0:
        return var_dir / "postgres"
    remembered = var_dir / "postgres-home"
    if remembered.exists():
        home = Path(remembered.read_text().strip())
        if home.is_dir():
            return home
    home = Path(tempfile.mkdtemp(prefix="tessera-postgres-", dir="/var/tmp"))
    remembered.write_text(f"{home}\n")
    remembered.chmod(0o600)
    return home


if __name__ == "__main__":
    sys.exit(main())
