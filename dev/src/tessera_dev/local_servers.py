"""A PostgreSQL cluster and a Redis server of our own, on loopback, for `make run DB=postgres`
and `make soak` (which restarts PostgreSQL, so it must never be the machine's own).

    with LocalPostgres(base_dir, port=55432) as postgres:    # initdb on first use, then start
        postgres.provision_service_databases()             # deploy/postgres/init.sql, as compose
        urls = postgres.service_database_urls()            # {"auth": "postgresql+asyncpg://..."}
        postgres.restart()                                 # a fault: fast shutdown, start again
    with LocalRedis(port=56379) as redis:
        redis.url                                          # redis://127.0.0.1:56379/0

The cluster gets the same databases and roles as compose (one of each per service), from the
same `deploy/postgres/init.sql`. PostgreSQL refuses to run as root, so as root its commands run
as the `postgres` user (`runuser`), which then owns `base_dir` (its data and its log): every
directory above it must let that user through (`/tmp`, `/var/tmp` do; `make run`'s private
`var/` does not, so as root the launcher keeps the cluster in a `/var/tmp/tessera-postgres-*`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from tessera_dev.platform import SERVICE_NAMES
from tessera_dev.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[3]
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
START_SECONDS = 30.0


class LocalServerError(RuntimeError):
    """A local server could not be set up or started (the message says what to install)."""


def postgres_bin(program: str) -> str:
    """Where a PostgreSQL server program is (Debian keeps them off PATH, per version)."""
    found = shutil.which(program) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"), reverse=True)), None
    )
    if found is None:
        raise LocalServerError(
            f"{program} not found: install PostgreSQL's server (apt-get install postgresql)"
        )
    return found


def service_database_url(service: str, host: str, port: int) -> str:
    """A service's database URL as compose writes it: its own role, password and database."""
    return f"postgresql+asyncpg://{service}:{service}-dev-only@{host}:{port}/{service}"


def _wait_listening(port: int, seconds: float = START_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.05)
    return False


class LocalPostgres:
    """A PostgreSQL cluster in `base_dir`/data (log: `base_dir`/postgres.log), listening on
    127.0.0.1:`port` only, trust auth."""

    def __init__(self, base_dir: Path, *, port: int) -> None:
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.port = port
        self._as_postgres = os.geteuid() == 0

    def __enter__(self) -> Self:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def service_database_urls(self) -> dict[str, str]:
        return {name: service_database_url(name, "127.0.0.1", self.port) for name in SERVICE_NAMES}

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off"
        self._pg_ctl("start", "-w", "-t", str(int(START_SECONDS)), "-o", options, "-l", self._log)
        if not _wait_listening(self.port):
            raise LocalServerError(f"PostgreSQL did not start on port {self.port}: see {self._log}")

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended); nothing when it is not running."""
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", "fast", check=False)

    def restart(self) -> None:
        """Stop (fast) and start again: every open connection breaks, as in a failover."""
        self.stop()
        self.start()

    def provision_service_databases(self) -> None:
        """Apply `deploy/postgres/init.sql` once (as the postgres image does on an empty
        volume): a role and a database per service."""
        marker = self.data_dir / "tessera-provisioned"  # as root: written by root, read by us
        if marker.exists():
            return
        self._run(
            [
                *(postgres_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"),
                *("-p", str(self.port), "-U", "postgres", "-d", "postgres", "-f", "-"),
            ],
            # on stdin: as postgres, psql may not be able to read a file in a private checkout
            stdin=INIT_SQL.read_text(encoding="utf-8"),
        )
        marker.write_text("deploy/postgres/init.sql applied\n")

    @property
    def _log(self) -> str:
        return str(self.base_dir / "postgres.log")

    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.base_dir, account.pw_uid, account.pw_gid)
        self._run(
            [
                *(postgres_bin("initdb"), "-D", str(self.data_dir), "-U", "postgres"),
                *("--auth=trust", "--no-sync", "-E", "UTF8"),
            ]
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        self._run([postgres_bin("pg_ctl"), "-D", str(self.data_dir), *args], check=check)

    def _run(self, argv: Sequence[str], *, check: bool = True, stdin: str | None = None) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else list(argv)
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own programs, our arguments
            command,
            # the cluster's own directory: as postgres, the caller's (a private checkout such as
            # a `mktemp -d` clone) may be one that user cannot enter, and psql refuses to start
            cwd=self.base_dir,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and done.returncode != 0:
            hint = (
                f" (as root it runs as postgres: every directory above {self.base_dir} must let "
                "that user through)"
                if self._as_postgres and "Permission denied" in done.stderr
                else ""
            )
            raise LocalServerError(
                f"{Path(argv[0]).name} failed: {done.stderr.strip()[-500:]}{hint}"
            )


class LocalRedis:
    """A Redis server on 127.0.0.1:`port` with no persistence, stopped with the block."""

    def __init__(self, *, port: int, log_path: Path | None = None) -> None:
        self.port = port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> Self:
        server = shutil.which("redis-server")
        if server is None:
            raise LocalServerError("redis-server not found: apt-get install redis-server")
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL
        argv = [server, "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(  # noqa: S603 - the local redis-server
            die_with_parent(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if not _wait_listening(self.port):
            self.__exit__(None, None, None)
            raise LocalServerError(f"redis-server did not start on port {self.port}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
