"""The fixed caller a benchmark twin answers for, in place of a verified token's Principal."""

from __future__ import annotations

from tessera import Principal


def fixed_caller(
    user_id: str, *, scopes: frozenset[str], audience: str, actor: str | None = None
) -> Principal:
    """A caller that never expires and carries no token: only the twins (never a service) use it."""
    return Principal(
        sub=user_id,
        sid=None,
        client_id=actor or "bench",
        scopes=scopes,
        roles=frozenset(),
        ver=0,
        jti="bench",
        issued_at=0,
        expires_at=2**62,
        audience=(audience,),
        actor=actor,
        token="",
    )
