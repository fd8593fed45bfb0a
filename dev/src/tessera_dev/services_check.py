"""`make test` step one: PostgreSQL and Redis are reachable; `docker-compose`, `curl` and `jq`
are installed.

If a server is down it is started (`pg_ctlcluster`, `redis-server --daemonize`); if its binary is
missing and we are root, it is installed with apt-get. When that is impossible the check exits 1
with one line saying what to run. Debian's `docker-compose` (used by the compose test to validate
docker-compose.yml; no Docker engine needed) is installed the same way when missing, and so are
`curl` and `jq`, which the README's command blocks use (tests/test_readme_blocks.py runs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
README_TOOLS = ("curl", "jq")
INSTALL_HINT = (
    "PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and Redis (127.0.0.1:6379) are needed: "
    "sudo apt-get install -y postgresql redis-server && sudo pg_ctlcluster "
    "$(ls /etc/postgresql) main start && redis-server --daemonize yes --bind 127.0.0.1"
)


def reachable(address: tuple[str, int], timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def wait_reachable(address: tuple[str, int], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(address):
            return True
        time.sleep(0.25)
    return False


def _quiet(argv: list[str], env: dict[str, str] | None = None) -> bool:
    """Run a fixed command of this module (never user input); True when it succeeded."""
    try:
        done = subprocess.run(argv, capture_output=True, env=env, check=False, timeout=600)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def apt_install(*packages: str) -> bool:
    """Install Debian packages when we are root; False when we cannot."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "-qq", *packages]
    if _quiet(argv, env):
        return True
    _quiet(["apt-get", "update", "-qq"], env)
    return _quiet(argv, env)


def _postgres_clusters() -> list[str]:
    root = Path("/etc/postgresql")
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def ensure_postgres() -> bool:
    if reachable(POSTGRES):
        return True
    if shutil.which("pg_ctlcluster") is None or not _postgres_clusters():
        apt_install("postgresql")
    for version in _postgres_clusters():
        _quiet(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    if not wait_reachable(POSTGRES):
        return False
    return _trust_local_postgres()


def _trust_local_postgres() -> bool:
    """Tests connect as `postgres` without a password over loopback; a fresh install needs that."""
    probe = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-w", "-Atc", "select 1"]
    if _quiet(probe):
        return True
    if os.geteuid() != 0:
        return False
    for version in _postgres_clusters():
        hba = Path("/etc/postgresql") / version / "main" / "pg_hba.conf"
        rule = "host all all 127.0.0.1/32 trust\n"
        text = hba.read_text()
        if rule not in text:
            hba.write_text(rule + text)
        _quiet(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "reload"])
    return wait_reachable(POSTGRES) and _quiet(probe)


def ensure_redis() -> bool:
    if reachable(REDIS):
        return True
    if shutil.which("redis-server") is None:
        apt_install("redis-server")
    if shutil.which("redis-server") is None:
        return False
    _quiet(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(REDIS[1]),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
    )
    return wait_reachable(REDIS)


def ensure_docker_compose() -> bool:
    """Debian's docker-compose validates docker-compose.yml offline (`docker-compose config`)."""
    if shutil.which("docker-compose") is None:
        apt_install("docker-compose")
    return shutil.which("docker-compose") is not None


def ensure_readme_tools() -> list[str]:
    """`curl` and `jq`, for the README's command blocks; the ones still missing."""
    missing = [tool for tool in README_TOOLS if shutil.which(tool) is None]
    if missing:
        apt_install(*missing)
    return [tool for tool in README_TOOLS if shutil.which(tool) is None]


def main() -> int:
    if not (ensure_postgres() and ensure_redis()):
        print(f"services_check: {INSTALL_HINT}", file=sys.stderr)
        return 1
    if not ensure_docker_compose():
        print(
            "services_check: docker-compose is missing (sudo apt-get install -y docker-compose); "
            "the compose validation test will be skipped",
            file=sys.stderr,
        )
    if missing := ensure_readme_tools():
        print(
            f"services_check: {' and '.join(missing)} missing (sudo apt-get install -y "
            f"{' '.join(missing)}); the README's command blocks will not be run",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
