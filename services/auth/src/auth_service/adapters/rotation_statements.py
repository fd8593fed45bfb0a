"""The statements of a refresh-token rotation, built once (docs/performance.md).

A rotation is auth's hottest path: every app and tab refreshes every few minutes, all at once
after a deploy or at 9 am. Built per call, through the ORM, its nine statements cost four times
the work they do (SQL construction, cache keys, ORM bookkeeping). Here they are SQLAlchemy Core
statements built at import, with named parameters, so a call only binds values:

- `READ_WITH_SESSION`: the presented token's row with its session and user, in one read;
  `LOCK_WITH_SESSION` is the same read holding the token row (`FOR UPDATE OF refresh_tokens`:
  only the token row is locked);
- `RECORD_ROTATION` (PostgreSQL): one statement that marks the presented token used *if it is
  still unused* (the `rotated` CTE) and only then, in data-modifying CTEs that each depend on
  `rotated`, forgets the family's previous sealed successor, touches the session, writes the
  audit row and inserts the successor, whose hash it returns (no row: another request used
  the token first, and nothing was written). Its parts touch different rows (the previous
  parent still holds a sealed successor, the presented token does not yet), as PostgreSQL
  requires of one statement;
- `ROTATION_STATEMENTS`: the same five parts as separate statements, for SQLite (no DML in
  CTEs), run in order inside its write lock; `MARK_ROTATED` is the conditional one.

Parameters are named apart from the columns they fill (SQLAlchemy reserves the column names).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import BindParameter, Label
from sqlalchemy.sql.schema import Table
from tessera.storage import UtcDateTime, entity_from_row

from auth_service.adapters.models import AuditRow, RefreshTokenRow, SessionRow, UserRow
from auth_service.domain.sessions import PresentedToken, RefreshTokenRecord, Session
from auth_service.domain.users import Role, User

TOKENS: Table = RefreshTokenRow.__table__  # type: ignore[assignment]
SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
USERS: Table = UserRow.__table__  # type: ignore[assignment]
AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]


def _labelled(table: Table, prefix: str) -> list[Label[Any]]:
    """A table's columns in a joined read, each labelled `<prefix><column>`."""
    return [column.label(prefix + column.name) for column in table.columns]


READ_WITH_SESSION = (
    select(*_labelled(TOKENS, "t_"), *_labelled(SESSIONS, "s_"), *_labelled(USERS, "u_"))
    .select_from(
        TOKENS.join(SESSIONS, SESSIONS.c.id == TOKENS.c.session_id).join(
            USERS, USERS.c.id == SESSIONS.c.user_id
        )
    )
    .where(TOKENS.c.token_hash == bindparam("presented_hash"))
)
LOCK_WITH_SESSION = READ_WITH_SESSION.with_for_update(of=TOKENS)


def presented_token_of(row: Row[Any] | SimpleNamespace) -> PresentedToken:
    """The token, session and user of a `READ_WITH_SESSION` (or `LOCK_WITH_SESSION`) row:
    SQLAlchemy's, or a `DriverStatement`'s."""
    return PresentedToken(
        record=entity_from_row(RefreshTokenRecord, row, prefix="t_"),
        session=entity_from_row(Session, row, prefix="s_", amr=tuple(row.s_amr)),
        user=entity_from_row(
            User, row, prefix="u_", roles=frozenset(Role(role) for role in row.u_roles)
        ),
    )


_AT = bindparam("at", type_=UtcDateTime())
_SESSION_ID = bindparam("family", type_=String())
_SUCCESSOR_HASH = bindparam("successor", type_=LargeBinary())
_SUCCESSOR: dict[str, BindParameter[Any]] = {
    "token_hash": _SUCCESSOR_HASH,
    "session_id": _SESSION_ID,
    "generation": bindparam("successor_generation", type_=Integer()),
    "created_at": _AT,
}
AUDIT_PARAMETER = "audit_"
"""The prefix of the audit row's parameters in the rotation's statements."""
_AUDIT: dict[str, BindParameter[Any]] = {
    column.name: bindparam(AUDIT_PARAMETER + column.name, type_=column.type)
    for column in AUDIT.columns
    if column.name != "id"
}

CLEAR_SEALED = (
    update(TOKENS)
    .where(TOKENS.c.session_id == _SESSION_ID, TOKENS.c.sealed_successor.is_not(None))
    .values(sealed_successor=None)
)
"""Forget the family's sealed successors (through the partial index of the rows holding one:
migration 0009): at every rotation, and when the family is revoked."""
MARK_ROTATED = (
    update(TOKENS)
    .where(TOKENS.c.token_hash == bindparam("presented_hash"), TOKENS.c.used_at.is_(None))
    .values(
        used_at=_AT,
        successor_hash=_SUCCESSOR_HASH,
        sealed_successor=bindparam("sealed", type_=LargeBinary()),
    )
)
"""Mark the presented token used, if nobody has: the one successor's guard."""
TOUCH_SESSION = update(SESSIONS).where(SESSIONS.c.id == _SESSION_ID).values(last_used_at=_AT)

INSERT_AUDIT = insert(AUDIT)
"""An audit row, its values given at execution."""

ROTATION_STATEMENTS = (
    CLEAR_SEALED,  # first: after MARK_ROTATED it would forget the successor just sealed
    MARK_ROTATED,
    insert(TOKENS).values(_SUCCESSOR),
    TOUCH_SESSION,
    insert(AUDIT).values(_AUDIT),
)

_ROTATED = MARK_ROTATED.returning(TOKENS.c.token_hash).cte("rotated")
_IF_ROTATED = select(_ROTATED.c.token_hash).exists()
RECORD_ROTATION = (
    insert(TOKENS)
    .from_select(list(_SUCCESSOR), select(*_SUCCESSOR.values()).where(_IF_ROTATED))
    .add_cte(
        CLEAR_SEALED.where(_IF_ROTATED).cte("cleared"),
        TOUCH_SESSION.where(_IF_ROTATED).cte("touched"),
        insert(AUDIT)
        .from_select(list(_AUDIT), select(*_AUDIT.values()).where(_IF_ROTATED))
        .cte("audited"),
    )
    .returning(TOKENS.c.token_hash)
)
