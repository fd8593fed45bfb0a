"""The refresh-token file: the reference for what a native app keeps in secure storage.

A refresh token is the session, so the file is treated like a key: mode 0600 in a 0700 directory,
never logged, and replaced atomically. `save` writes the new token to a temporary file in the same
directory (created 0600 with O_EXCL, so nothing else can have it open), fsyncs it, renames it over
the old one and fsyncs the directory. Until the rename the old token is still on disk: a crash
between receiving a rotated token and storing it leaves the old one, which the server's grace
window still accepts if the app comes back within it (it returns the same successor); after the
window the server treats the old token as reused and the user signs in again.

On iOS/Android the same contract maps to the Keychain / EncryptedSharedPreferences: store the new
token (synchronously, successfully) before discarding the old one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from tessera_mobile.errors import InsecureTokenFileError, TokenStoreError

_FILE_MODE = 0o600
_DIR_MODE = 0o700


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
        and silently using it would hide that.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink: someone redirected the file
                raise InsecureTokenFileError(f"token file {self.path} is a symlink") from exc
            raise TokenStoreError(f"cannot read token file {self.path}: {exc.strerror}") from exc
        with os.fdopen(fd, "r", encoding="ascii") as file:
            info = os.fstat(file.fileno())
            self._check_private(info)
            token = file.read().strip()
        return token or None

    def save(self, refresh_token: str) -> None:
        """Durably replace the stored token; the old one stays on disk until the new one is."""
        if not refresh_token or not refresh_token.isascii() or not refresh_token.isprintable():
            raise TokenStoreError("refusing to store an empty or malformed refresh token")
        directory = self.path.parent
        directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        temporary = directory / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(refresh_token)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        _fsync_directory(directory)

    def clear(self) -> None:
        """Forget the token (logout, or the server ended the session)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        _fsync_directory(self.path.parent)

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


def _fsync_directory(directory: Path) -> None:
    """Make the rename (or unlink) itself durable, not just the file's contents."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
