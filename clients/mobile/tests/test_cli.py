"""The CLI's errors: one line a person can act on, and an exit code a script can test."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tessera_mobile.cli import main
from tessera_mobile.store import TokenStore


def unused_local_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_tessera_is_one_line_naming_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = unused_local_url()
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))

    login = ["login", "--email", "ada@example.org", "--password-stdin"]
    code = main(["--base-url", url, "--store", str(tmp_path / "rt"), *login])

    err = capsys.readouterr().err
    assert code == 4
    assert err == f"tessera-mobile: cannot reach Tessera at {url}: is `make run` running?\n"


def test_a_command_before_signing_in_says_to_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-url", unused_local_url(), "--store", str(tmp_path / "rt"), "orders"])

    assert code == 3
    assert "sign in" in capsys.readouterr().err


def test_a_token_file_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rt"
    TokenStore(path).save("tsr_" + "x" * 43)
    path.chmod(0o644)

    code = main(["--base-url", unused_local_url(), "--store", str(path), "orders"])

    assert code == 1
    assert "wider than 0600" in capsys.readouterr().err


def test_an_order_needs_a_sku_quantity_and_price(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["order", "create", "--sku", "BOOK-1"])

    assert exited.value.code == 2
    assert "--quantity" in capsys.readouterr().err


class _Lines:
    """A stdin that holds a fixed text (what `--password-stdin` reads)."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self._lines.pop(0) if self._lines else ""
