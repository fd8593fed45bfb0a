"""Checking a passkey's answer to a ceremony: shared by passwordless sign-in, the MFA step of a
password login and step-up (`use_cases/passkeys.py`, `login.py`, `step_up.py`).

A refusal is one `PasskeySignInError`, audited (in the caller's unit of work, committed) when it
suggests an attack: an unknown credential, another user's, a flagged one, a bad signature or
another origin, or a counter that went backwards, which also flags the passkey.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from auth_service.adapters.webauthn_ceremonies import RelyingParty
from auth_service.domain.passkeys import Ceremony, Passkey, sign_count_acceptable
from auth_service.domain.ports import UnitOfWork
from auth_service.domain.sessions import AuditEntry, RequestContext
from auth_service.domain.users import User
from auth_service.errors import PasskeySignInError


async def verified_passkey(
    uow: UnitOfWork,
    relying_party: RelyingParty,
    ceremony: Ceremony,
    credential: dict[str, Any],
    context: RequestContext,
    *,
    now: datetime,
) -> tuple[User, Passkey]:
    """The user and passkey that answered `ceremony` (its counter moved); else
    `PasskeySignInError` (see the module docstring)."""
    credential_id, user_handle = relying_party.credential_id_of(credential)
    passkey = await uow.passkeys.by_credential_id(credential_id)
    if passkey is None:
        await _refused(uow, "passkey.unknown_credential", None, context, now)
    assert passkey is not None
    foreign = ceremony.user_id is not None and passkey.user_id != ceremony.user_id
    # a passwordless sign-in names its user only through the passkey: the handle must say it
    no_handle = ceremony.user_id is None and user_handle is None
    wrong_handle = no_handle or (user_handle is not None and user_handle != passkey.user_id.bytes)
    if foreign or wrong_handle:
        await _refused(uow, "passkey.foreign_credential", passkey, context, now)
    if passkey.flagged_at is not None:
        await _refused(uow, "passkey.flagged_used", passkey, context, now)
    try:
        signed_count = relying_party.verify_assertion(ceremony, credential, passkey)
    except PasskeySignInError:  # a bad signature, another origin (a phishing page?)
        await _refused(uow, "passkey.assertion_refused", passkey, context, now)
        raise
    if not sign_count_acceptable(passkey.sign_count, signed_count):
        await uow.passkeys.flag(passkey.id, now=now)
        await _refused(uow, "passkey.counter_regressed", passkey, context, now)
    if not await uow.passkeys.record_use(passkey, sign_count=signed_count, now=now):
        await uow.commit()  # a sign-in with the same counter won the race; what was spent stays
        raise PasskeySignInError
    user = await uow.users.get(passkey.user_id)
    if user is None:
        raise PasskeySignInError
    return user, passkey


async def usable_passkeys(uow: UnitOfWork, user_id: uuid.UUID) -> list[Passkey]:
    """The user's passkeys that may sign in (not flagged)."""
    return [item for item in await uow.passkeys.list_for_user(user_id) if item.flagged_at is None]


async def _refused(
    uow: UnitOfWork,
    event: str,
    passkey: Passkey | None,
    context: RequestContext,
    now: datetime,
) -> None:
    await uow.audit.record(
        AuditEntry(
            event,
            now,
            user_id=None if passkey is None else str(passkey.user_id),
            context=context,
            detail=None if passkey is None else {"id": str(passkey.id)},
        )
    )
    await uow.commit()
    raise PasskeySignInError
