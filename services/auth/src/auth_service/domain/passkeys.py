"""Passkeys (WebAuthn, DESIGN §11): the credentials a user registered, the single-use
challenges of each ceremony, and the sign-counter rule that catches a cloned authenticator.

A ceremony is two calls: options (a random 256-bit challenge, kept server-side by id for 5
minutes) and the answer, which consumes the challenge once, whatever runs concurrently. The
cryptography is py_webauthn's (`adapters/webauthn_ceremonies.py`); what is decided here is
pure: which challenge is good for what, and whether a counter may be accepted.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tessera.tokens.step_up import ACR_PHR

CHALLENGE_LIFETIME = timedelta(minutes=5)
CHALLENGE_ID_PREFIX = "wac_"
PASSKEY_ACR = ACR_PHR
"""A passkey is phishing-resistant: its signature is bound to the origin."""


class CeremonyPurpose(enum.StrEnum):
    REGISTER = "register"
    LOGIN = "login"
    """Passwordless sign-in: discoverable credentials, the user named by the passkey."""
    MFA = "mfa"
    """The second step of a password login."""
    STEP_UP = "step_up"


@dataclass(frozen=True)
class Passkey:
    """A registered credential: its public key (COSE), counter, and what the user named it."""

    id: uuid.UUID
    user_id: uuid.UUID
    credential_id: bytes
    public_key: bytes = field(repr=False)
    sign_count: int
    name: str
    synced: bool
    """Backed up (a multi-device passkey): `swk` in `amr`; else device-bound, `hwk`."""
    created_at: datetime
    last_used_at: datetime | None = None
    flagged_at: datetime | None = None
    """Set when its counter went backwards (a clone?): it signs nobody in until replaced."""

    @property
    def amr(self) -> tuple[str, ...]:
        """RFC 8176: a software-secured (synced) or hardware-secured key, with the user
        verified on the device: more than one factor."""
        return ("swk" if self.synced else "hwk", "mfa")


@dataclass(frozen=True)
class Ceremony:
    """One options call's challenge, kept until answered (once) or expired."""

    id: str
    challenge: bytes = field(repr=False)
    purpose: CeremonyPurpose
    created_at: datetime
    expires_at: datetime
    user_id: uuid.UUID | None = None
    """The user it is for (registration, MFA step, step-up); None for a passwordless sign-in."""
    session_id: str | None = None
    mfa_token_hash: bytes | None = None


def new_ceremony(
    purpose: CeremonyPurpose,
    *,
    now: datetime,
    user_id: uuid.UUID | None = None,
    session_id: str | None = None,
    mfa_token_hash: bytes | None = None,
) -> Ceremony:
    return Ceremony(
        id=CHALLENGE_ID_PREFIX + secrets.token_urlsafe(24),
        challenge=secrets.token_bytes(32),
        purpose=purpose,
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
        user_id=user_id,
        session_id=session_id,
        mfa_token_hash=mfa_token_hash,
    )


def sign_count_acceptable(stored: int, presented: int) -> bool:
    """WebAuthn §6.1.1: a counter must grow; 0 → 0 is fine (synced passkeys keep 0)."""
    if stored == 0 and presented == 0:
        return True
    return presented > stored
