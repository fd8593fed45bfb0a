"""Servers as production runs them, each its own process, and the CPU each one spends.

A benchmark that runs the app in its own process measures the load client too (it needs about
as much CPU per request as a lean endpoint). Here a server is a `python -m … serve` process
(uvicorn with uvloop and httptools, the JSON access log on), the load comes from another
process (`bench.load_client`), and what a request costs is read from the kernel: utime +
stime of the server's pid (every thread) and of the PostgreSQL backends serving its
database, from `/proc/<pid>/stat`, before and after a round.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import asyncpg
import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPOSITORY = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, all its threads; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(") ")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServedProcess:
    """A server process listening on `url`."""

    process: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


@contextmanager
def served(
    argv: Sequence[str], *, env: Mapping[str, str], port: int, ready_path: str = "/healthz"
) -> Iterator[ServedProcess]:
    """Run `argv` (a server on 127.0.0.1:`port`) until the block ends; its output is dropped
    (the access log is still written, as in production, only not kept)."""
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed below; a pipe nobody reads fills up)
    process = subprocess.Popen(
        [sys.executable, *argv],
        env={**os.environ, **env},
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, url + ready_path, errors)
        yield ServedProcess(process, url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


def _wait_until_ready(
    process: subprocess.Popen[bytes], url: str, errors: IO[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            error = errors.read().decode(errors="replace")
            raise RuntimeError(f"{url}: the server exited ({process.returncode}): {error[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s")


class PostgresBackends:
    """The CPU of the PostgreSQL backends connected to one database (not the whole cluster:
    other databases' work on the same server does not count)."""

    def __init__(self, admin_dsn: str, database: str) -> None:
        self._admin_dsn = admin_dsn
        self._database = database

    async def _pids(self) -> list[int]:
        connection = await asyncpg.connect(self._admin_dsn)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self._database,
            )
        finally:
            await connection.close()
        return [row["pid"] for row in rows]

    def snapshot(self) -> dict[int, float]:
        """CPU seconds so far of each backend of the database."""
        return {pid: cpu_seconds(pid) for pid in asyncio.run(self._pids())}

    @staticmethod
    def spent(before: Mapping[int, float], after: Mapping[int, float]) -> float:
        """CPU spent between two snapshots (a backend that started in between counts whole)."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class LoadClient:
    """A `bench.load_client` process: prepared once, then driven round by round."""

    process: subprocess.Popen[str]

    def round(self, seconds: float) -> dict[str, float]:
        """One timed round; the client's counts (`requests`, `failures`, …)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{seconds}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load client exited ({self.process.wait()})")
        result: dict[str, float] = json.loads(line)
        return result


@contextmanager
def load_client(*arguments: str) -> Iterator[LoadClient]:
    """Start `python -m bench.load_client ARGUMENTS`; it prepares, then waits for rounds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.load_client", *arguments],
        cwd=REPOSITORY,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the load client failed to prepare ({process.wait()})")
        yield LoadClient(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
