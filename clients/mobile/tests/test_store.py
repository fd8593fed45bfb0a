"""The refresh-token file: private, replaced atomically, never losing the old token early, never
leaving a token behind in a killed save's temporary file, and failing with one line that names it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tessera_mobile.errors import CorruptTokenFileError, InsecureTokenFileError, TokenStoreError
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


# -- a file that cannot be read or written -------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"tsr_SECRET\xff\xfe",  # not ASCII: a disk error, or an editor's encoding
        b"tsr_SECRETone\ntsr_SECRETtwo\n",  # two tokens
        b"tsr_SECRET\x00\x00\x00",  # a torn write
    ],
)
def test_a_corrupt_token_file_is_named_without_showing_its_content(
    token_path: Path, content: bytes
) -> None:
    token_path.parent.mkdir(parents=True)
    token_path.write_bytes(content)
    token_path.chmod(0o600)

    with pytest.raises(CorruptTokenFileError) as raised:
        TokenStore(token_path).load()

    message = str(raised.value)
    assert str(token_path) in message
    assert "sign in again" in message
    assert "SECRET" not in message
    assert "SECRET" not in repr(raised.value.__cause__)


def test_signing_in_again_replaces_a_corrupt_token_file(token_path: Path) -> None:
    token_path.parent.mkdir(parents=True)
    token_path.write_bytes(b"\xff\xfe")
    token_path.chmod(0o600)

    TokenStore(token_path).save(NEW)

    assert TokenStore(token_path).load() == NEW


def test_a_token_file_in_a_place_that_cannot_hold_one_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("a file, not a directory")
    path = tmp_path / "config" / "refresh_token"

    with pytest.raises(TokenStoreError, match=f"cannot write token file {path}"):
        TokenStore(path).save(NEW)


def test_a_full_disk_keeps_the_old_token_and_leaves_no_temporary_file(
    token_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(TokenStoreError, match="No space left on device"):
        store.save(NEW)
    monkeypatch.undo()

    assert store.load() == OLD
    assert sorted(p.name for p in token_path.parent.iterdir()) == ["refresh_token"]


def test_a_token_file_that_cannot_be_removed_is_a_store_error(token_path: Path) -> None:
    token_path.mkdir(parents=True)  # a directory where the file should be

    with pytest.raises(TokenStoreError, match=f"cannot remove token file {token_path}"):
        TokenStore(token_path).clear()


# -- temporary files of a save that was killed -----------------------------------------------------

SAVE_THAT_STOPS_BEFORE_THE_RENAME = """
import os, sys
from tessera_mobile.store import TokenStore

real_replace = os.replace

def replace_when_told(source, target):
    print("written", flush=True)  # the temporary file is complete and fsynced, not yet renamed
    if sys.stdin.readline() == "rename\\n":
        real_replace(source, target)

os.replace = replace_when_told
TokenStore(sys.argv[1]).save(sys.argv[2])
"""


@contextlib.contextmanager
def save_in_another_process(path: Path, token: str) -> Iterator[subprocess.Popen[str]]:
    """A second process in the middle of `TokenStore(path).save(token)`, stopped just before
    the rename until the test writes "rename" to it (or kills it)."""
    with subprocess.Popen(
        [sys.executable, "-c", SAVE_THAT_STOPS_BEFORE_THE_RENAME, str(path), token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "written\n"
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def temporaries(token_path: Path) -> list[Path]:
    return sorted(token_path.parent.glob(f".{token_path.name}.*.tmp"))


def killed_mid_save(token_path: Path) -> Path:
    """SIGKILL a process inside `save(NEW)`; return the temporary file it left (NEW in it)."""
    with save_in_another_process(token_path, NEW) as process:
        process.kill()
        process.wait(timeout=30)
    [leftover] = temporaries(token_path)
    assert leftover.read_text() == NEW  # a live token, in a file nobody will rename
    return leftover


@pytest.mark.parametrize("operation", ["load", "save", "clear"])
def test_a_temporary_file_left_by_a_killed_save_is_removed_by_the_next_use_of_the_store(
    token_path: Path, operation: str
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    killed_mid_save(token_path)

    match operation:
        case "load":
            assert store.load() == OLD
        case "save":
            store.save(OLD)
        case "clear":
            store.clear()

    assert temporaries(token_path) == []


def test_the_temporary_file_of_a_save_still_running_elsewhere_is_left_to_it(
    token_path: Path,
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)

    with save_in_another_process(token_path, NEW) as process:
        assert store.load() == OLD
        store.save(OLD)
        assert len(temporaries(token_path)) == 1  # still the other process's, still locked

        assert process.stdin is not None
        process.stdin.write("rename\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0

    assert store.load() == NEW
    assert temporaries(token_path) == []


def test_only_this_stores_own_regular_temporary_files_are_removed(
    token_path: Path, tmp_path: Path
) -> None:
    store = TokenStore(token_path)
    store.save(OLD)
    killed_mid_save(token_path)
    directory = token_path.parent
    elsewhere = tmp_path / "elsewhere.tmp"
    elsewhere.write_text(NEW)
    elsewhere.chmod(0o600)
    symlink = directory / ".refresh_token.00000000000000aa.tmp"
    symlink.symlink_to(elsewhere)
    others = [
        directory / ".other_token.00000000000000bb.tmp",  # another store's, same directory
        directory / ".refresh_token.notes.tmp",  # not a name `save` makes
        directory / "refresh_token.00000000000000cc.tmp",
    ]
    for other in others:
        other.write_text(NEW)
        other.chmod(0o600)
    kept = sorted([symlink, *others])

    assert store.load() == OLD

    assert sorted(p for p in directory.iterdir() if p != token_path) == kept
    assert elsewhere.read_text() == NEW  # the symlink was not followed
