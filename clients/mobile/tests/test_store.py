"""The refresh-token file: private, replaced atomically, and never losing the old token early."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from tessera_mobile.errors import InsecureTokenFileError, TokenStoreError
from tessera_mobile.store import TokenStore

OLD = "tsr_" + "o" * 43
NEW = "tsr_" + "n" * 43


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "tessera-mobile" / "refresh_token"


def test_a_fresh_store_holds_no_token(token_path: Path) -> None:
    assert TokenStore(token_path).load() is None


def test_a_saved_token_is_read_back(token_path: Path) -> None:
    TokenStore(token_path).save(OLD)

    assert TokenStore(token_path).load() == OLD


def test_the_token_file_is_readable_only_by_its_owner(token_path: Path) -> None:
    TokenStore(token_path).save(OLD)

    assert mode_of(token_path) == 0o600
    assert mode_of(token_path.parent) == 0o700


def test_the_new_token_is_private_from_the_moment_it_is_written(
    token_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes_before_rename: list[int] = []
    real_replace = os.replace

    def observing_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        modes_before_rename.append(stat.S_IMODE(os.stat(source).st_mode))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", observing_replace)
    TokenStore(token_path).save(NEW)

    assert modes_before_rename == [0o600]


def test_saving_replaces_the_file_instead_of_rewriting_it_in_place(token_path: Path) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    old_inode = token_path.stat().st_ino

    store.save(NEW)

    assert token_path.stat().st_ino != old_inode
    assert store.load() == NEW
    assert sorted(p.name for p in token_path.parent.iterdir()) == ["refresh_token"]


def test_a_crash_before_the_new_token_is_in_place_leaves_the_old_one(
    token_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    def crash(source: object, target: object) -> None:
        raise SimulatedCrash

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SimulatedCrash):
        store.save(NEW)
    monkeypatch.undo()

    assert TokenStore(token_path).load() == OLD


def test_a_temporary_file_left_by_a_crash_does_not_change_the_stored_token(
    token_path: Path,
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    leftover = token_path.parent / ".refresh_token.0123456789abcdef.tmp"
    fd = os.open(leftover, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, NEW.encode())
    os.close(fd)

    assert store.load() == OLD
    store.save(NEW)
    assert store.load() == NEW


def test_a_world_readable_token_file_is_refused(token_path: Path) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    token_path.chmod(0o644)

    with pytest.raises(InsecureTokenFileError, match="mode 0644, wider than 0600"):
        store.load()


def test_a_group_writable_token_file_is_refused(token_path: Path) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    token_path.chmod(0o620)

    with pytest.raises(InsecureTokenFileError):
        store.load()


def test_a_symlink_in_place_of_the_token_file_is_refused(token_path: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(OLD)
    elsewhere.chmod(0o600)
    token_path.parent.mkdir(parents=True)
    token_path.symlink_to(elsewhere)

    with pytest.raises(InsecureTokenFileError, match="symlink"):
        TokenStore(token_path).load()


def test_clearing_forgets_the_token(token_path: Path) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    store.clear()

    assert store.load() is None
    assert not token_path.exists()


def test_clearing_an_empty_store_is_harmless(token_path: Path) -> None:
    TokenStore(token_path).clear()

    assert TokenStore(token_path).load() is None


@pytest.mark.parametrize("bad", ["", "tsr_with\nnewline", "tsr_naïve"])
def test_an_empty_or_malformed_token_is_not_stored(token_path: Path, bad: str) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    with pytest.raises(TokenStoreError):
        store.save(bad)

    assert store.load() == OLD


def test_the_store_never_shows_its_token(token_path: Path) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    assert OLD not in repr(store)
