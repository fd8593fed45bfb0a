"""Second factors (DESIGN §11): TOTP, recovery codes, and the `mfa_token` of a two-step login.

    TOTP        RFC 6238 (SHA-1, 6 digits, 30 s steps), ±1 step of clock skew; the secret is
                sealed under a key derived from the key-encryption key; a code is accepted once:
                the factor keeps the last step used and only a later step is accepted
    recovery    ten single-use codes `xxxx-xxxx-xxxx-xxxx` (80 bits each), stored as
                HMAC-SHA256 under a KEK-derived key: a stolen table alone cannot be searched
    mfa_token   `tsm_` + 256 random bits, stored as SHA-256, bound to the user and the login's
                client, single use, 5 minutes, dead after 5 wrong codes

Everything here is pure: the use cases (`use_cases/mfa.py`, `use_cases/login.py`) decide, and
the repositories consume codes and tokens with conditional UPDATEs, so two concurrent requests
can never both use one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
from tessera.sealing import Sealer, derive_key

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_SKEW_STEPS = 1
TOTP_ISSUER = "Tessera"
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_GROUPS = 4
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
MFA_TOKEN_PREFIX = "tsm_"  # noqa: S105 (a prefix, not a secret)
MFA_TOKEN_LIFETIME = timedelta(minutes=5)
MFA_TOKEN_MAX_FAILURES = 5
PENDING_TOTP_LIFETIME = timedelta(minutes=10)
"""An enrolment not confirmed within this is void: confirming it takes a new one."""
MAX_CODE_LENGTH = 64
TOTP_AMR = ("pwd", "otp", "mfa")
"""RFC 8176: a password, then a one-time password (a TOTP or a recovery code): two factors."""


class MfaMethod(enum.StrEnum):
    """What the second step of a login accepts."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    PASSKEY = "passkey"


PASSWORD = "password"  # noqa: S105 (the name of a kind of proof)


@dataclass(frozen=True)
class Proof:
    """What a user presents to prove it is them, at a login's second step or a step-up: the
    password (`kind` PASSWORD, step-up only), a TOTP code or a recovery code (`secret`), or a
    passkey's answer (`challenge_id` of `POST /v1/auth/passkey/options`, and `credential`)."""

    kind: str
    """`PASSWORD`, or an `MfaMethod` value."""
    secret: str = field(default="", repr=False)
    challenge_id: str = ""
    credential: dict[str, Any] = field(default_factory=dict, repr=False)


class TotpStatus(enum.StrEnum):
    OFF = "off"
    PENDING = "pending"
    """Enrolment started, not confirmed by a code yet: it does not guard sign-in."""
    ON = "on"


@dataclass(frozen=True)
class TotpFactor:
    """A user's TOTP factor as stored: the sealed secret, and the last step a code used."""

    user_id: uuid.UUID
    sealed_secret: bytes = field(repr=False)
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_step: int | None = None

    @property
    def status(self) -> TotpStatus:
        return TotpStatus.ON if self.confirmed_at is not None else TotpStatus.PENDING

    def confirmable(self, *, now: datetime) -> bool:
        """Pending, and started recently enough to be confirmed."""
        return self.confirmed_at is None and now < self.created_at + PENDING_TOTP_LIFETIME


@dataclass(frozen=True)
class MfaChallenge:
    """The pending second step of one login (`mfa_token`, stored as its hash)."""

    token_hash: bytes
    user_id: uuid.UUID
    client_id: str
    created_at: datetime
    expires_at: datetime
    failures: int = 0
    used_at: datetime | None = None

    def usable(self, *, client_id: str, now: datetime) -> bool:
        return (
            self.used_at is None
            and self.failures < MFA_TOKEN_MAX_FAILURES
            and now < self.expires_at
            and hmac.compare_digest(self.client_id, client_id)
        )


def new_totp_secret() -> str:
    """160 random bits, base32 (RFC 4226's recommended length), as authenticator apps take it."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    """The `otpauth://totp/...` URI an authenticator app scans."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=TOTP_ISSUER
    )


def totp_code(secret: str, *, step: int) -> str:
    """The code of `step` (time // 30): what the user's app shows then."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).at(
        step * TOTP_STEP_SECONDS
    )


def matching_step(secret: str, code: str, *, now: float) -> int | None:
    """The step (within ±1 of `now`'s) whose code `code` is, or None. Every candidate is
    compared in constant time; the caller then consumes the step, so a code works once."""
    candidate = "".join(code.split())
    if len(candidate) != TOTP_DIGITS or not candidate.isascii() or not candidate.isdigit():
        return None
    current = int(now // TOTP_STEP_SECONDS)
    matched = None
    for step in range(current - TOTP_SKEW_STEPS, current + TOTP_SKEW_STEPS + 1):
        if hmac.compare_digest(totp_code(secret, step=step), candidate):
            matched = step
    return matched


def new_recovery_codes() -> list[str]:
    """Ten codes of 16 characters in groups of four (80 bits each)."""
    return [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]


def _recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4))
        for _ in range(RECOVERY_CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_recovery_code(code: str) -> str:
    """What the user typed, as stored: no dashes or spaces, lower case."""
    return "".join(ch for ch in code if ch not in "- \t").lower()


def issue_mfa_token(
    user_id: uuid.UUID, client_id: str, *, now: datetime
) -> tuple[str, MfaChallenge]:
    """A new `mfa_token` (for the client) and its record (to store)."""
    token = MFA_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = MfaChallenge(hash_mfa_token(token), user_id, client_id, now, now + MFA_TOKEN_LIFETIME)
    return token, record


def hash_mfa_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def looks_like_mfa_token(token: str) -> bool:
    return token.startswith(MFA_TOKEN_PREFIX) and len(token) <= MAX_CODE_LENGTH


class MfaSecrets:
    """The keys of this module's secrets at rest, derived from the key-encryption key: one seals
    TOTP secrets (bound to their user), one keys the recovery codes' HMAC."""

    def __init__(self, key_encryption_key: bytes) -> None:
        self._sealer = Sealer(key_encryption_key, info=b"tessera/auth/totp-secret/v1")
        self._recovery_key = derive_key(key_encryption_key, info=b"tessera/auth/recovery-code/v1")

    def __repr__(self) -> str:
        return "MfaSecrets()"

    def seal_totp_secret(self, user_id: uuid.UUID, secret: str) -> bytes:
        return self._sealer.seal(secret.encode("ascii"), associated=str(user_id))

    def open_totp_secret(self, factor: TotpFactor) -> str | None:
        """The secret, or None if it cannot be opened (sealed under another KEK)."""
        plain = self._sealer.open(factor.sealed_secret, associated=str(factor.user_id))
        return None if plain is None else plain.decode("ascii")

    def recovery_code_hash(self, user_id: uuid.UUID, code: str) -> bytes:
        message = f"{user_id}:{normalize_recovery_code(code)}".encode()
        return hmac.new(self._recovery_key, message, hashlib.sha256).digest()
