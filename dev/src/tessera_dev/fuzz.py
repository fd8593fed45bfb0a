"""`make fuzz`: a schema-based fuzzer (Schemathesis) against each service's own OpenAPI.

Every operation of auth, orders and billing gets generated requests, valid and invalid, with a
real user's bearer token; each answer must be no 5xx, a documented status with its documented
content type and schema, and a 405 must name the methods the path really serves. Requests go to
real processes on loopback only, bounded by `--examples` per operation and `--seconds` per
service.

    python -m tessera_dev.fuzz                       # its own platform (SQLite), then fuzz
    python -m tessera_dev.fuzz --examples 5 --seconds 20

auth is fuzzed in two passes: first everything but the calls that end the caller's sessions
(so the token stays good for the rest), then those calls alone. `tests/test_openapi_fuzz.py`
runs a short pass against the e2e platform in `make test`.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tessera_dev.accounts import register_and_login
from tessera_dev.harness import RunningPlatform, free_port_plan
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,unsupported_method,"
    "allow_header_conformance,missing_required_header"
)
"""Everything but whether generated data is accepted or refused: a schema cannot say that an
order of zero cents or an unknown page token is refused, so those are documented as 422."""

SESSION_ENDING = r"^/v1/(auth/logout|auth/logout-all|users/me/password)$"


@dataclass(frozen=True)
class FuzzRun:
    """One Schemathesis run: what it covered and how it ended."""

    name: str
    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def _schemathesis() -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli"]


def fuzz_service(
    name: str,
    base_url: str,
    token: str,
    *,
    examples: int,
    seconds: float,
    extra: tuple[str, ...] = (),
) -> FuzzRun:
    """Fuzz one service's `/openapi.json` with `token` as the bearer."""
    with tempfile.TemporaryDirectory(prefix="tessera-fuzz-") as workdir:
        command = [
            *_schemathesis(),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(examples),
            "--max-time",
            str(max(1, int(seconds))),
            "--header",
            f"Authorization: Bearer {token}",
            "--generation-database",
            "none",
            "--no-color",
            "--request-timeout",
            "10",
            "--output-truncate",
            "true",
            *extra,
        ]
        completed = subprocess.run(  # noqa: S603 - our own test tool, loopback URLs
            command,
            capture_output=True,
            text=True,
            cwd=workdir,  # its report directory lands in the temporary one
            timeout=seconds + 120,
            check=False,
        )
    return FuzzRun(name, completed.returncode, completed.stdout + completed.stderr)


def fuzz_platform(platform: RunningPlatform, *, examples: int, seconds: float) -> list[FuzzRun]:
    """Every service of a running platform, each with a fresh user's token."""
    auth_url = platform.plan.service("auth").base_url

    def token() -> str:
        return register_and_login(auth_url, client_id="mobile").access_token

    runs = [
        fuzz_service(
            "auth",
            auth_url,
            token(),
            examples=examples,
            seconds=seconds,
            extra=("--exclude-path-regex", SESSION_ENDING),
        ),
        fuzz_service(
            "auth (session-ending calls)",
            auth_url,
            token(),
            examples=examples,
            seconds=seconds / 2,
            extra=("--include-path-regex", SESSION_ENDING),
        ),
    ]
    for name in ("orders", "billing"):
        base_url = platform.plan.service(name).base_url
        runs.append(fuzz_service(name, base_url, token(), examples=examples, seconds=seconds))
    return runs


def _own_platform(workdir: Path) -> RunningPlatform:
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    plan = describe_platform(
        ports=free_port_plan(),
        database_urls=sqlite_database_urls(workdir / "var"),
        extra_settings={
            "auth": {
                "KEY_ENCRYPTION_KEY": kek,
                "PASSWORD_HASH_MEMORY_KIB": "8192",
                "PASSWORD_HASH_TIME_COST": "1",
                "PASSWORD_HASH_PARALLELISM": "1",
                **BULK_USERS_AUTH_SETTINGS,
            }
        },
    )
    return RunningPlatform.start(plan, log_dir=workdir / "logs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=50, help="test cases per operation")
    parser.add_argument("--seconds", type=float, default=60, help="time budget per service")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="tessera-fuzz-platform-") as workdir,
        _own_platform(Path(workdir)) as platform,
    ):
        runs = fuzz_platform(platform, examples=args.examples, seconds=args.seconds)
    for run in runs:
        print(f"{'passed' if run.passed else 'FAILED'}  {run.name}")
        if not run.passed:
            print(run.output)
    return 0 if all(run.passed for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
