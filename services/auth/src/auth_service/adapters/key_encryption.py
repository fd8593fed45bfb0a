"""The key-encryption key (KEK) and the AES-256-GCM wrapping of stored private keys.

Every auth replica must sign with the same key, so private keys live in the database, sealed under
a KEK that never touches the database: `KEY_ENCRYPTION_KEY` (base64) or a mounted secret file named
by `KEY_ENCRYPTION_KEY_FILE`. In the embedded dev mode with neither, one is generated once at
`var/auth-kek` (mode 0600). The kid is the associated data, so a sealed key cannot be swapped
onto another row.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth_service.config import DEV_KEY_ENCRYPTION_KEY_FILE, Settings, decode_key_encryption_key
from auth_service.errors import KeyEncryptionKeyError

logger = logging.getLogger(__name__)

NONCE_BYTES = 12


def _read_key_file(path: Path) -> bytes:
    try:
        return decode_key_encryption_key(path.read_text("ascii"))
    except (OSError, ValueError) as exc:
        raise KeyEncryptionKeyError(f"cannot read the key-encryption key from {path}") from exc


def _create_dev_key_file(path: Path) -> None:
    """Write a fresh KEK atomically; if another process won the race, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
    try:
        os.link(temporary, path)  # fails if the file exists: never overwrite a KEK
        logger.warning("generated a development key-encryption key at %s", path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def load_key_encryption_key(settings: Settings, *, create_dev_key: bool = True) -> bytes:
    """The KEK from settings; in dev with none configured, the generated `var/auth-kek`
    (created on first use unless `create_dev_key` is False: operator commands never invent a
    KEK the running service does not have)."""
    if settings.KEY_ENCRYPTION_KEY is not None:
        return decode_key_encryption_key(settings.KEY_ENCRYPTION_KEY.get_secret_value())
    if settings.KEY_ENCRYPTION_KEY_FILE is not None:
        return _read_key_file(settings.KEY_ENCRYPTION_KEY_FILE)
    if settings.ENVIRONMENT != "dev":
        raise KeyEncryptionKeyError("no key-encryption key configured")
    if not DEV_KEY_ENCRYPTION_KEY_FILE.exists():
        if not create_dev_key:
            raise KeyEncryptionKeyError(
                f"no key-encryption key configured and no {DEV_KEY_ENCRYPTION_KEY_FILE} here: "
                "run with auth's settings (KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE)"
            )
        _create_dev_key_file(DEV_KEY_ENCRYPTION_KEY_FILE)
    return _read_key_file(DEV_KEY_ENCRYPTION_KEY_FILE)


class KeyWrapper:
    """Seals and opens private keys with AES-256-GCM under the KEK."""

    def __init__(self, key_encryption_key: bytes) -> None:
        self._aead = AESGCM(key_encryption_key)

    def seal(self, kid: str, private_key_der: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_key_der, kid.encode("utf-8"))

    def open(self, kid: str, sealed: bytes) -> bytes:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, kid.encode("utf-8"))
        except InvalidTag as exc:
            raise KeyEncryptionKeyError(
                f"signing key {kid} does not open with the configured key-encryption key"
            ) from exc
