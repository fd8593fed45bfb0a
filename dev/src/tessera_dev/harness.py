"""Run the real platform for end-to-end tests and benchmarks: free ports, own databases, logs.

    with temporary_postgres_databases("e2e") as urls, RunningPlatform.start(
        describe_platform(ports=free_port_plan(), database_urls=urls), log_dir=tmp
    ) as platform:
        httpx.get(platform.plan.service("auth").base_url + "/.well-known/jwks.json")

Processes are started exactly like the launcher starts them (every service migrated at once,
then served, with the settings of `tessera_dev.platform`); each one's output goes to
`<log_dir>/<name>.log` so a test can read what a service logged.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import asyncpg
import httpx

from tessera_dev.platform import SERVICE_NAMES, Platform, PortPlan
from tessera_dev.processes import child_environment, local_argv
from tessera_dev.service_clients import generate_service_client_secrets

RESERVED_PORTS = frozenset({8000, 8001, 8002, 8003, 50051, 1025, 8025})
"""`make run`'s ports: tests never take them, so both can run at once."""

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


class PlatformStartError(RuntimeError):
    """A process failed to migrate, exited, or never became ready; the message has its log tail."""


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now (bound together so they are distinct)."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            port = sock.getsockname()[1]
            if port not in RESERVED_PORTS:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


def free_port_plan() -> PortPlan:
    return PortPlan(*free_ports(PortPlan.COUNT))


def free_port_base(count: int = PortPlan.COUNT, attempts: int = 200) -> int:
    """A base port with `count` consecutive free ports (for the launcher's `--port-base`)."""
    for _ in range(attempts):
        base = secrets.randbelow(30_000) + 20_000
        candidates = range(base, base + count)
        if RESERVED_PORTS.isdisjoint(candidates) and all(map(_bindable, candidates)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def with_own_service_client_secrets(plan: Platform, directory: Path) -> Platform:
    """`plan`, or (when it names the embedded default's relative `var/` files, or files that do
    not exist) `plan` with fresh secrets of its own in `directory`: a test platform never shares
    `make run`'s secrets, which the launcher rewrites on every start."""
    named = Path(plan.service("auth").settings.get("SERVICE_CLIENTS_FILE", ""))
    if named.is_absolute() and named.is_file():
        return plan
    files = generate_service_client_secrets(directory)
    services = []
    for service in plan.services:
        settings = dict(service.settings)
        if "SERVICE_CLIENTS_FILE" in settings:
            settings["SERVICE_CLIENTS_FILE"] = str(files.clients_file)
        if service.name in files.secret_files and "SERVICE_CLIENT_SECRET_FILE" in settings:
            settings["SERVICE_CLIENT_SECRET_FILE"] = str(files.secret_files[service.name])
        services.append(replace(service, settings=settings))
    return replace(plan, services=tuple(services))


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RunningProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def stop(self, grace_seconds: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()
        return self.process.returncode


@dataclass
class RunningPlatform:
    """The services (and optionally the dev gateway) running as real processes, with the
    platform's inbox whenever auth runs (`mail`: its SMTP catcher and Mailpit-style API)."""

    plan: Platform
    log_dir: Path
    processes: dict[str, RunningProcess] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        plan: Platform,
        *,
        log_dir: Path,
        services: Sequence[str] = SERVICE_NAMES,
        gateway: bool = False,
        ready_timeout: float = 120.0,
    ) -> Self:
        log_dir.mkdir(parents=True, exist_ok=True)
        plan = with_own_service_client_secrets(plan, log_dir / "service-clients")
        running = cls(plan, log_dir)
        urls: dict[str, str] = {}
        try:
            if "auth" in services:
                running._spawn("mail", plan.mail.serve_argv, plan.mail.settings)
                urls["mail"] = plan.mail.health_url
            # all at once, as the launcher migrates them: each its own database
            with ThreadPoolExecutor(max_workers=len(services)) as migrations:
                list(migrations.map(running._migrate, services))  # raises the first failure
            for name in services:
                service = plan.service(name)
                running._spawn(name, service.serve_argv, service.settings)
            if gateway:
                running._spawn("gateway", plan.gateway.serve_argv, plan.gateway.settings)
            urls |= {name: plan.service(name).health_url for name in services}
            if gateway:
                urls["gateway"] = plan.gateway.health_url
            running._wait_ready(urls, ready_timeout)
        except BaseException:
            running.stop()
            raise
        return running

    def _migrate(self, name: str) -> None:
        service = self.plan.service(name)
        log_path = self.log_dir / f"{name}-migrate.log"
        with log_path.open("wb") as log_file:
            code = subprocess.run(  # noqa: S603 - the platform's own commands
                local_argv(service.migrate_argv),
                env=child_environment(service.settings),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            ).returncode
        if code != 0:
            raise PlatformStartError(f"{name} migrate exited {code}:\n{_tail(log_path)}")

    def _spawn(self, name: str, argv: Sequence[str], settings: Mapping[str, str]) -> None:
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab")  # a restarted process appends
        process = subprocess.Popen(  # noqa: S603 - the platform's own commands
            local_argv(argv),
            env=child_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = RunningProcess(name, process, log_path, log_file)

    def _wait_ready(self, urls: Mapping[str, str], limit: float) -> None:
        pending = dict(urls)
        deadline = time.monotonic() + limit
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name, running in self.processes.items():
                    if running.process.poll() is not None:
                        raise PlatformStartError(
                            f"{name} exited {running.process.returncode}:\n"
                            f"{_tail(running.log_path)}"
                        )
                for name, url in list(pending.items()):
                    try:
                        if client.get(url).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    tails = "\n".join(f"--- {n}\n{self.log(n)[-3000:]}" for n in pending)
                    raise PlatformStartError(f"not ready after {limit:.0f} s:\n{tails}")
                time.sleep(0.2)

    def start_process(
        self,
        name: str,
        argv: Sequence[str],
        settings: Mapping[str, str],
        *,
        ready_url: str,
        ready_timeout: float = 60.0,
    ) -> None:
        """Start one more process (a restarted service, a benchmark's twin) and wait for it."""
        self._spawn(name, argv, settings)
        self._wait_ready({name: ready_url}, ready_timeout)

    def restart(self, name: str, *, ready_timeout: float = 60.0) -> None:
        """Stop a service or the inbox (SIGTERM) and start it again with the same settings;
        waits for it."""
        self.stop_process(name)
        process = self.plan.mail if name == "mail" else self.plan.service(name)
        self.start_process(
            name,
            process.serve_argv,
            process.settings,
            ready_url=process.health_url,
            ready_timeout=ready_timeout,
        )

    def stop_process(self, name: str) -> int:
        """SIGTERM one process (SIGKILL after a grace period); its exit code. Its log is kept
        (a restart appends to it)."""
        return self.processes.pop(name).stop()

    def kill_process(self, name: str) -> None:
        """SIGKILL one process: a crash, no graceful shutdown."""
        running = self.processes.pop(name)
        running.process.kill()
        running.stop()

    def log(self, name: str) -> str:
        """Everything the process has written so far."""
        running = self.processes[name]
        running.log_file.flush()
        return running.log_path.read_text(errors="replace")

    def wait_for_log(self, name: str, needle: str, seconds: float = 10.0) -> str:
        """The process's log once it contains `needle` (a service logs a request after answering
        it, so a test that just got its answer may be ahead of the log line)."""
        deadline = time.monotonic() + seconds
        while needle not in (text := self.log(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return text

    def all_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.log_dir.glob("*.log"))

    def stop(self) -> dict[str, int]:
        """SIGTERM every process (then SIGKILL after a grace period); their exit codes."""
        codes = {name: running.stop() for name, running in reversed(self.processes.items())}
        self.processes.clear()
        return codes

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def _admin(statements: Sequence[str]) -> None:
    connection = await asyncpg.connect(POSTGRES_DSN, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def temporary_postgres_databases(label: str) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database per service (unique names), dropped afterwards."""
    run_id = secrets.token_hex(4)
    names = {service: f"tessera_{label}_{run_id}_{service}" for service in SERVICE_NAMES}
    asyncio.run(_admin([f'CREATE DATABASE "{name}"' for name in names.values()]))
    try:
        yield {
            service: f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            for service, name in names.items()
        }
    finally:
        asyncio.run(_admin([f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()]))
