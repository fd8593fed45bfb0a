"""`python -m auth_service`: migrate, then create or promote an admin, as an operator would."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from auth_service.cli import main

FAST_HASHING_ENV = {
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
    "PASSWORD_HASH_PARALLELISM": "1",
}


def run_cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **FAST_HASHING_ENV,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "auth_service", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def roles_of(tmp_path: Path, email: str) -> tuple[list[str], int]:
    with sqlite3.connect(tmp_path / "auth.db") as db:
        roles, version = db.execute(
            "SELECT roles, token_version FROM users WHERE email_normalized = ?", (email,)
        ).fetchone()
    return json.loads(roles), version


def test_migrate_then_create_admin_makes_an_admin_with_the_password_from_stdin(
    tmp_path: Path,
) -> None:
    migrated = run_cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr

    result = run_cli(
        tmp_path,
        "users",
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password-stdin",
        stdin="correct horse\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created admin Root@Example.com")
    assert "correct horse" not in result.stdout + result.stderr
    assert roles_of(tmp_path, "root@example.com") == (["admin", "user"], 1)


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's `main` called directly (cheaper than a process) against a migrated SQLite file."""
    for name, value in FAST_HASHING_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["migrate"]) == 0
    return tmp_path


def test_create_admin_promotes_an_existing_user_and_bumps_their_token_version(
    in_process: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert main(["users", "create-admin", "--email", "ada@example.com", "--password-stdin"]) == 0
    with sqlite3.connect(in_process / "auth.db") as db:
        db.execute("UPDATE users SET roles = '[\"user\"]'")
    capsys.readouterr()

    # no --password-stdin and no prompt: promoting needs no password (a verified account)
    assert main(["users", "create-admin", "--email", "ADA@example.com"]) == 0

    assert capsys.readouterr().out.startswith("promoted admin ada@example.com")
    assert roles_of(in_process, "ada@example.com") == (["admin", "user"], 2)


def test_create_admin_refuses_a_password_below_the_policy(
    in_process: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))

    status = main(["users", "create-admin", "--email", "root@example.com", "--password-stdin"])

    assert status == 2
    assert "password" in capsys.readouterr().err
    with sqlite3.connect(in_process / "auth.db") as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_create_admin_refuses_to_promote_an_account_whose_address_is_unverified(
    in_process: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # whoever registered it may not own the address, and knows its password
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert main(["users", "create-admin", "--email", "ada@example.com", "--password-stdin"]) == 0
    with sqlite3.connect(in_process / "auth.db") as db:
        db.execute("UPDATE users SET roles = '[\"user\"]', email_verified_at = NULL")
    capsys.readouterr()

    assert main(["users", "create-admin", "--email", "ada@example.com"]) != 0

    assert "not verified" in capsys.readouterr().err
    assert roles_of(in_process, "ada@example.com") == (["user"], 1)


def test_reset_mfa_removes_the_factor_and_codes_audited_and_mails_the_owner(
    in_process: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a user who lost the authenticator and the recovery codes asks the operator
    monkeypatch.setenv("KEY_ENCRYPTION_KEY", base64.b64encode(bytes(32)).decode("ascii"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert main(["users", "create-admin", "--email", "ada@example.com", "--password-stdin"]) == 0
    with sqlite3.connect(in_process / "auth.db") as db:
        (user_id,) = db.execute("SELECT id FROM users").fetchone()
        db.execute(
            "INSERT INTO totp_factors (user_id, sealed_secret, created_at, confirmed_at)"
            " VALUES (?, x'00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (user_id,),
        )
        db.execute(
            "INSERT INTO recovery_codes (code_hash, user_id, created_at)"
            " VALUES (x'01', ?, '2026-01-01 00:00:00')",
            (user_id,),
        )
    capsys.readouterr()

    reset = main(["users", "reset-mfa", "--email", "ADA@example.com"])
    again = main(["users", "reset-mfa", "--email", "ada@example.com"])
    unknown = main(["users", "reset-mfa", "--email", "nobody@example.com"])

    assert (reset, again, unknown) == (0, 0, 1)
    out, err = capsys.readouterr()
    assert "removed the second factor" in out
    assert "had no second factor" in out
    assert "no user" in err
    with sqlite3.connect(in_process / "auth.db") as db:
        assert db.execute("SELECT count(*) FROM totp_factors").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM recovery_codes").fetchone() == (0,)
        events = [row[0] for row in db.execute("SELECT event FROM audit_log")]
        mails = [row[0] for row in db.execute("SELECT kind FROM mail_outbox")]
    assert events.count("mfa.reset_by_operator") == 2
    assert mails == ["mfa_reset"]
