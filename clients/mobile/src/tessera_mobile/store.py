"""The refresh-token file: the reference for what a native app keeps in secure storage.

A refresh token is the session, so the file is treated like a key: mode 0600 in a 0700 directory,
never logged, and replaced atomically. `save` writes the new token to a temporary file in the same
directory (created 0600 with O_EXCL, so nothing else can have it open), fsyncs it, renames it over
the old one and fsyncs the directory. Until the rename the old token is still on disk: a crash
between receiving a rotated token and storing it leaves the old one, which the server's grace
window still accepts if the app comes back within it (it returns the same successor); after the
window the server treats the old token as reused and the user signs in again.

A process killed during `save` (SIGKILL, power loss) leaves its temporary file behind, and that
file holds a live token. The writer keeps an exclusive `flock` on its temporary file until the
rename, and the kernel drops the lock when the process dies; so every `save`, `load` and `clear`
removes the files of this store's temporary-file pattern, in this store's directory, that are
regular files of this user and that nobody holds locked. A save running in another process keeps
its lock and its file. Symlinks are never followed or removed.

On iOS/Android the same contract maps to the Keychain / EncryptedSharedPreferences: store the new
token (synchronously, successfully) before discarding the old one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
from pathlib import Path

from tessera_mobile.errors import CorruptTokenFileError, InsecureTokenFileError, TokenStoreError

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_TEMPORARY_SUFFIX = r"\.[0-9a-f]{16}\.tmp"  # `.{name}.{secrets.token_hex(8)}.tmp`, see `save`


class TokenStore:
    """Keeps one refresh token in a file only its owner can read.

    >>> store = TokenStore("~/.config/tessera-mobile/refresh_token")
    >>> store.save("tsr_...")      # durable when it returns
    >>> store.load()                # "tsr_..." (None when signed out)
    >>> store.clear()               # logout
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:  # never shows the token, only where it lives
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> str | None:
        """Return the stored refresh token, or None when there is none.

        Raises InsecureTokenFileError if the file is a symlink, is not owned by this user, or its
        mode lets anyone else read or write it: a token others could read may already be stolen,
        and silently using it would hide that. Raises CorruptTokenFileError if it holds anything
        but one printable ASCII token, and TokenStoreError if it cannot be read.
        """
        self._remove_abandoned_temporaries()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink: someone redirected the file
                raise InsecureTokenFileError(f"token file {self.path} is a symlink") from exc
            raise TokenStoreError(f"cannot read token file {self.path}: {_reason(exc)}") from exc
        try:
            with os.fdopen(fd, "rb") as file:
                self._check_private(os.fstat(file.fileno()))
                content = file.read()
        except OSError as exc:
            raise TokenStoreError(f"cannot read token file {self.path}: {_reason(exc)}") from exc
        try:
            token = content.decode("ascii").strip()
        except UnicodeDecodeError:
            raise CorruptTokenFileError(str(self.path)) from None  # the bytes may be a token
        if token and not _is_storable(token):
            raise CorruptTokenFileError(str(self.path))
        return token or None

    def save(self, refresh_token: str) -> None:
        """Durably replace the stored token; the old one stays on disk until the new one is.

        Raises TokenStoreError if the token is malformed or cannot be written durably (if the
        rename did not happen, the old token is still in place).
        """
        if not _is_storable(refresh_token):
            raise TokenStoreError("refusing to store an empty or malformed refresh token")
        directory = self.path.parent
        try:
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            self._remove_abandoned_temporaries()
            self._replace_with(refresh_token)
            _fsync_directory(directory)
        except OSError as exc:
            raise TokenStoreError(f"cannot write token file {self.path}: {_reason(exc)}") from exc

    def clear(self) -> None:
        """Forget the token (logout, or the server ended the session).

        Raises TokenStoreError if the file exists but cannot be removed.
        """
        self._remove_abandoned_temporaries()
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise TokenStoreError(f"cannot remove token file {self.path}: {_reason(exc)}") from exc
        with contextlib.suppress(OSError):  # the token is gone; durability of that is best effort
            _fsync_directory(self.path.parent)

    def _replace_with(self, refresh_token: str) -> None:
        """Write a temporary file, locked until it is renamed over the token file."""
        temporary = self.path.parent / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, _FILE_MODE)
        try:
            # Before the first byte: a temporary file with content is always locked while its
            # writer lives (see `_remove_abandoned_temporaries`).
            fcntl.flock(fd, fcntl.LOCK_EX)
            with open(fd, "w", encoding="ascii", closefd=False) as file:
                file.write(refresh_token)
            os.fsync(fd)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        finally:
            os.close(fd)  # releases the lock, after the rename

    def _remove_abandoned_temporaries(self) -> None:
        """Delete temporary files whose writer died before renaming them (best effort).

        Only names of this store's own pattern in its own directory, only regular files of this
        user (opened with O_NOFOLLOW, so never through a symlink), and only those nobody holds
        locked. An empty one is left alone: its writer may be alive and not yet locked, and it
        holds no token.
        """
        pattern = re.compile(re.escape(f".{self.path.name}") + _TEMPORARY_SUFFIX)
        try:
            directory_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return  # no directory, no leftovers; anything worse shows in the caller's own call
        try:
            for name in os.listdir(directory_fd):
                if pattern.fullmatch(name):
                    with contextlib.suppress(OSError):
                        _remove_if_abandoned(name, directory_fd)
        except OSError:
            return
        finally:
            os.close(directory_fd)

    def _check_private(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise InsecureTokenFileError(f"token file {self.path} is not a regular file")
        if info.st_uid != os.getuid():
            raise InsecureTokenFileError(f"token file {self.path} belongs to another user")
        mode = stat.S_IMODE(info.st_mode)
        if mode & ~_FILE_MODE:
            raise InsecureTokenFileError(
                f"token file {self.path} has mode {mode:04o}, wider than 0600: other users may "
                f"have read it; delete it and sign in again"
            )


def _is_storable(token: str) -> bool:
    """One line of printable ASCII: what a refresh token is, and all this file may hold."""
    return bool(token) and token.isascii() and token.isprintable()


def _remove_if_abandoned(name: str, directory_fd: int) -> None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # no symlink; a FIFO must not block
    fd = os.open(name, flags, dir_fd=directory_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size == 0:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a save in another process is writing it right now
        os.unlink(name, dir_fd=directory_fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _fsync_directory(directory: Path) -> None:
    """Make the rename (or unlink) itself durable, not just the file's contents."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
