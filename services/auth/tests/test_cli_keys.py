"""`python -m auth_service keys list|rotate`, run as an operator would, on a SQLite database.

The JWKS max-age is short here, so a next key may sign a few seconds after it was published
(max-age + reload + margin) and a waiting rotation finishes quickly.
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

FAST_KEY_SCHEDULE = {"JWKS_MAX_AGE_SECONDS": "1", "SIGNING_KEY_RELOAD_SECONDS": "0.1"}


class Operator:
    """Runs auth's CLI against one database with one KEK, like `make keys-rotate` does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.kek = base64.b64encode(secrets.token_bytes(32)).decode()

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            **os.environ,
            **FAST_KEY_SCHEDULE,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.directory / 'auth.db'}",
            "KEY_ENCRYPTION_KEY": self.kek,
            **overrides,
        }

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "auth_service", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**env),
            cwd=self.directory,
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        process = self.start(*args, **env)
        stdout, stderr = process.communicate(timeout=60)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def states(self) -> dict[str, str]:
        with sqlite3.connect(self.directory / "auth.db") as db:
            return dict(db.execute("SELECT kid, state FROM signing_keys").fetchall())

    def key_events(self) -> list[str]:
        with sqlite3.connect(self.directory / "auth.db") as db:
            rows = db.execute("SELECT value FROM revocation_events WHERE kind = 'key'")
            return [value for (value,) in rows]


@pytest.fixture
def operator(tmp_path: Path) -> Operator:
    return Operator(tmp_path)


@pytest.fixture
def migrated(operator: Operator) -> Operator:
    assert operator.run("migrate").returncode == 0
    return operator


def kid_in(states: dict[str, str], state: str) -> str:
    (kid,) = [kid for kid, s in states.items() if s == state]
    return kid


def test_before_migrate_the_commands_say_what_to_run_in_one_line(operator: Operator) -> None:
    result = operator.run("keys", "rotate")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "auth_service migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_on_a_new_database_rotate_creates_the_first_keys(migrated: Operator) -> None:
    assert "no signing keys yet" in migrated.run("keys", "list").stdout

    result = migrated.run("keys", "rotate")

    assert result.returncode == 0, result.stderr
    assert "created the first signing keys" in result.stdout
    assert sorted(migrated.states().values()) == ["active", "next"]


def test_rotate_waits_until_the_next_key_may_sign_then_moves_each_key_one_state_on(
    migrated: Operator,
) -> None:
    slow = {"JWKS_MAX_AGE_SECONDS": "8"}  # long enough to outlast two CLI start-ups
    migrated.run("keys", "rotate", **slow)
    before = migrated.states()

    impatient = migrated.run("keys", "rotate", "--no-wait", **slow)
    assert impatient.returncode == 3
    assert "not rotated" in impatient.stderr
    assert migrated.states() == before

    result = migrated.run("keys", "rotate", **slow)

    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stderr
    after = migrated.states()
    assert after[kid_in(before, "active")] == "retired"
    assert after[kid_in(before, "next")] == "active"
    assert sorted(after.values()) == ["active", "next", "retired"]
    listing = migrated.run("keys", "list").stdout
    assert f"{kid_in(after, 'retired')}\tretired" in listing
    assert "published until" in listing
    assert "may sign from" in listing


def test_two_operators_rotating_at_once_make_one_rotation(migrated: Operator) -> None:
    migrated.run("keys", "rotate")
    before = migrated.states()

    first, second = migrated.start("keys", "rotate"), migrated.start("keys", "rotate")
    outputs = [process.communicate(timeout=60)[0] for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0]
    verdicts = sorted(output.split(":")[0] for output in outputs)
    assert verdicts == ["already rotated by someone else", "rotated"]
    after = migrated.states()
    assert sorted(after.values()) == ["active", "next", "retired"]
    assert after[kid_in(before, "next")] == "active"


def test_revoke_current_drops_the_key_at_once_and_publishes_a_key_event(
    migrated: Operator,
) -> None:
    migrated.run("keys", "rotate")
    compromised = kid_in(migrated.states(), "active")

    result = migrated.run("keys", "rotate", "--revoke-current", "--no-wait")

    assert result.returncode == 0, result.stderr
    assert f"revoked {compromised}" in result.stdout
    assert compromised not in migrated.states()
    assert migrated.key_events() == [compromised]


def test_a_wrong_key_encryption_key_changes_nothing(migrated: Operator) -> None:
    migrated.run("keys", "rotate")
    before = migrated.states()
    other_kek = base64.b64encode(secrets.token_bytes(32)).decode()

    result = migrated.run("keys", "rotate", "--revoke-current", KEY_ENCRYPTION_KEY=other_kek)

    assert result.returncode == 1
    assert "key-encryption key" in result.stderr
    assert migrated.states() == before
    assert migrated.key_events() == []
