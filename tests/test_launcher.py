"""`make run`'s launcher, on other ports: it brings everything up and prints the URLs; Ctrl-C
(SIGINT) stops every process it started, and so does the death of any one of them; with
`--db postgres` the same platform runs on a PostgreSQL cluster and a Redis of its own."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tessera_dev.accounts import register_and_login
from tessera_dev.harness import free_port_base, free_ports
from tessera_dev.inbox import Inbox, mailed_token
from tessera_dev.launcher import default_log_format, keep_private, postgres_home
from tessera_dev.platform import PortPlan
from tessera_dev.service_clients import ServiceClientFiles

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("mail", "auth", "orders", "billing", "gateway")
ORDER = {"items": [{"sku": "MUG", "quantity": 1, "unit_price_cents": 1250}], "currency": "EUR"}
START_UP_SECONDS = 150


@dataclass
class Launcher:
    process: subprocess.Popen[str]
    ports: PortPlan
    output: list[str] = field(default_factory=list)
    up: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if "Tessera is up" in line:
                self.up.set()

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    @property
    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    with started_launcher(tmp_path) as running:
        yield running


@contextlib.contextmanager
def started_launcher(tmp_path: Path, *options: str) -> Iterator[Launcher]:
    base = free_port_base()
    argv = [sys.executable, "-m", "tessera_dev.launcher", "--port-base", str(base), *options]
    process = subprocess.Popen(
        [*argv, "--var-dir", str(tmp_path / "var")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    running = Launcher(process, PortPlan.from_base(base))
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    try:
        assert running.up.wait(START_UP_SECONDS), running.text[-6000:]
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)


@dataclass
class SignUp:
    """What a newcomer met signing up through `make run`'s gateway: registered, refused a
    login until the address is verified, mailed a link, verified, signed in."""

    registered: httpx.Response
    unverified: httpx.Response
    mail: dict[str, Any]
    token: str
    verified: httpx.Response
    signed_in: httpx.Response
    issuer: httpx.Response


def sign_up(ports: PortPlan) -> SignUp:
    gateway = f"http://127.0.0.1:{ports.gateway}"
    inbox = Inbox(f"http://127.0.0.1:{ports.mail_http}")
    credentials = {"email": "ada@example.com", "password": "correct horse battery"}
    mobile = {**credentials, "client_id": "mobile"}

    registered = httpx.post(f"{gateway}/v1/users", json=credentials, timeout=30)
    unverified = httpx.post(f"{gateway}/v1/auth/login", json=mobile, timeout=30)
    mail = inbox.wait_for("ada@example.com", subject="Confirm your email address")
    token = mailed_token(mail)
    verified = httpx.post(f"{gateway}/v1/users/verify-email", json={"token": token}, timeout=30)
    signed_in = httpx.post(f"{gateway}/v1/auth/login", json=mobile, timeout=30)
    issuer = httpx.get(f"{gateway}/.well-known/oauth-authorization-server", timeout=30)
    return SignUp(registered, unverified, mail, token, verified, signed_in, issuer)


@dataclass
class StoppedRun:
    """One `make run` as a person uses it: started, asked once, signed up to, stopped with
    Ctrl-C (SIGINT).

    Shared by the tests that only read what such a run answered or left behind (its answers,
    its output, its files, how it stopped): one platform start for all of them, not one each.
    """

    launcher: Launcher
    var: Path
    children_before_stop: list[psutil.Process]
    pids_alive_after_stop: list[psutil.Process]
    exit_code: int
    stop_seconds: float
    jwks_status: int
    orders_ready_status: int
    sign_up: SignUp


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoppedRun]:
    tmp_path = tmp_path_factory.mktemp("stopped-run")
    with started_launcher(tmp_path) as launcher:
        ports = launcher.ports
        children = launcher.children()
        jwks = httpx.get(
            f"http://127.0.0.1:{ports.gateway}/.well-known/jwks.json",
            headers={"X-Request-ID": "pipe-test-1"},
        )
        ready = httpx.get(f"http://127.0.0.1:{ports.orders}/readyz")
        signed_up = sign_up(ports)
        interrupted = time.monotonic()
        launcher.process.send_signal(signal.SIGINT)
        exit_code = launcher.process.wait(60)
        stop_seconds = time.monotonic() - interrupted
        _, alive = psutil.wait_procs(children, timeout=10)
        yield StoppedRun(
            launcher,
            tmp_path / "var",
            children,
            alive,
            exit_code,
            stop_seconds,
            jwks.status_code,
            ready.status_code,
            signed_up,
        )


def test_the_launcher_starts_everything_prints_the_urls_and_stops_all_on_sigint(
    stopped_run: StoppedRun,
) -> None:
    launcher, var = stopped_run.launcher, stopped_run.var
    ports = launcher.ports

    assert len(stopped_run.children_before_stop) >= 4
    assert stopped_run.jwks_status == 200
    assert stopped_run.orders_ready_status == 200
    assert (var / "auth.db").exists()
    kek = var / "auth-kek"
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    state = [path for path in var.iterdir() if path.is_file()]
    assert {path.name for path in state} >= {"auth.db", "orders.db", "billing.db"}
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in state} == {
        path.name: 0o600 for path in state
    }
    assert f"generated a development key-encryption key at {kek}" in launcher.text
    for url in (
        f"http://localhost:{ports.gateway}/",
        f"127.0.0.1:{ports.billing_grpc}",
        f"http://127.0.0.1:{ports.mail_http}/",
    ):
        assert url in launcher.text
    next_steps = launcher.text.split("Next:", 1)[-1]
    assert f"open http://localhost:{ports.gateway}/" in next_steps
    assert f"make demo DEMO_BASE_URL=http://localhost:{ports.gateway}" in next_steps
    assert "Ctrl-C here stops everything" in next_steps

    assert stopped_run.exit_code == 0
    # about half a second here; 1 to 1.5 s while each service still unloaded its modules
    assert stopped_run.stop_seconds < 3, launcher.text[-3000:]
    assert stopped_run.pids_alive_after_stop == []
    # every child stopped by itself, exit 0: none sat out a long poll and had to be killed
    for name in ("mail", "auth", "orders", "billing", "gateway"):
        assert re.search(rf"{name} stopped in \d+\.\d s", launcher.text), launcher.text[-3000:]
    assert "killing" not in launcher.text


def test_every_process_logs_json_lines_with_time_and_level_when_the_output_is_a_pipe(
    stopped_run: StoppedRun,
) -> None:
    lines = [line.split(" | ", 1) for line in stopped_run.launcher.output if " | " in line]
    logged = {name: [text for label, text in lines if label.strip() == name] for name in PROCESSES}

    for name in ("mail", "gateway"):  # only logs, no other output
        entries = [json.loads(text) for text in logged[name]]
        assert entries, name
        assert all({"ts", "level", "service", "message"} <= set(e) for e in entries), name
    (request,) = [json.loads(t) for t in logged["gateway"] if "pipe-test-1" in t]
    assert request["path"] == "/.well-known/jwks.json"
    assert request["status"] == 200
    for name in ("auth", "orders", "billing"):  # and `migrate`'s one line of result
        serving = [text for text in logged[name] if "latest migration" not in text]
        assert all(json.loads(text)["level"] for text in serving), name


def test_the_launcher_asks_for_console_lines_only_when_a_person_watches_a_terminal() -> None:
    assert default_log_format(stdout_is_terminal=True) == "console"
    assert default_log_format(stdout_is_terminal=False) == "json"


def test_make_run_requires_a_verified_address_and_mails_the_link_to_its_own_spa(
    stopped_run: StoppedRun,
) -> None:
    ports, signed_up = stopped_run.launcher.ports, stopped_run.sign_up

    assert signed_up.registered.status_code == 202
    assert signed_up.unverified.status_code == 403
    assert signed_up.unverified.json()["type"] == "urn:tessera:problem:email-not-verified"
    link = f"http://localhost:{ports.gateway}/#/verify?token={signed_up.token}"
    assert link in signed_up.mail["Text"]
    assert signed_up.verified.status_code == 204
    assert signed_up.signed_in.status_code == 200
    assert signed_up.issuer.json()["issuer"] == f"http://localhost:{ports.gateway}"


def test_the_launcher_writes_service_client_secrets_only_its_user_can_read_and_never_prints_them(
    stopped_run: StoppedRun,
) -> None:
    files = ServiceClientFiles.in_directory(stopped_run.var)

    table = json.loads(files.clients_file.read_text())

    assert set(table) == {"orders", "billing"}
    assert len(set(table.values())) == 2
    for client_id, path in files.secret_files.items():
        assert path.read_text().strip() == table[client_id]
    for path in (files.clients_file, *files.secret_files.values()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not any(secret in stopped_run.launcher.text for secret in table.values())


def test_when_one_service_dies_the_launcher_stops_the_others_and_fails(
    launcher: Launcher,
) -> None:
    children = launcher.children()
    orders = next(c for c in children if "orders_service" in " ".join(c.cmdline()))

    orders.kill()

    assert launcher.process.wait(60) != 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert "orders exited" in launcher.text


def test_a_var_directory_left_readable_by_an_older_run_is_made_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "auth.db").write_text("argon2 hashes")
    (var / "auth.db").chmod(0o644)

    keep_private(var)

    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "auth.db").stat().st_mode) == 0o600


def test_make_run_db_postgres_runs_the_platform_on_postgresql_and_redis_of_its_own(
    tmp_path: Path,
) -> None:
    postgres_port, redis_port = free_ports(2)
    options = ("--db", "postgres", "--postgres-port", str(postgres_port))
    var = tmp_path / "var"
    try:
        with started_launcher(tmp_path, *options, "--redis-port", str(redis_port)) as launcher:
            gateway = f"http://127.0.0.1:{launcher.ports.gateway}"
            inbox = Inbox(f"http://127.0.0.1:{launcher.ports.mail_http}")
            account = register_and_login(gateway, client_id="mobile", inbox=inbox)
            placed = httpx.post(
                f"{gateway}/v1/orders", json=ORDER, headers=account.bearer, timeout=30
            )
            redis_up = _listening(redis_port)
            launcher.process.send_signal(signal.SIGINT)
            code = launcher.process.wait(60)
    finally:
        if (var / "postgres-home").exists():  # as root the cluster lives outside var/
            shutil.rmtree(postgres_home(var), ignore_errors=True)

    assert f"PostgreSQL 127.0.0.1:{postgres_port} and Redis 127.0.0.1:{redis_port}" in launcher.text
    assert placed.status_code == 201, placed.text
    assert redis_up
    assert code == 0
    assert not _listening(postgres_port)  # the cluster stops with the launcher
    assert not _listening(redis_port)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
