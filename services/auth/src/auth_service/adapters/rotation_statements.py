"""The statements of a refresh-token rotation, built once (docs/performance.md).

A rotation is auth's hottest path: every app and tab refreshes every few minutes, all at once
after a deploy or at 9 am. Built per call, through the ORM, its nine statements cost four times
the work they do (SQL construction, cache keys, ORM bookkeeping). Here they are SQLAlchemy Core
statements built at import, with named parameters, so a call only binds values:

- `LOCK_WITH_SESSION`: the presented token's row, locked, with its session and user, in one
  read (`FOR UPDATE OF refresh_tokens`: only the token row is locked);
- `RECORD_ROTATION` (PostgreSQL): one statement whose data-modifying CTEs forget the family's
  previous sealed successor, mark the presented token used, touch the session, write the
  audit row and insert the successor. Its parts touch different rows (the previous parent
  still holds a sealed successor, the presented token does not yet), as PostgreSQL requires
  of one statement;
- `ROTATION_STATEMENTS`: the same five parts as separate statements, for SQLite (no DML in
  CTEs), run in order inside the write lock the rotation took first.

Parameters are named apart from the columns they fill (SQLAlchemy reserves the column names).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import LargeBinary, String, bindparam, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import Label
from sqlalchemy.sql.schema import Table
from tessera.storage import UtcDateTime

from auth_service.adapters.models import AuditRow, RefreshTokenRow, SessionRow, UserRow
from auth_service.domain.sessions import RefreshTokenRecord, Session
from auth_service.domain.users import Role, User

E = TypeVar("E")

TOKENS: Table = RefreshTokenRow.__table__  # type: ignore[assignment]
SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
USERS: Table = UserRow.__table__  # type: ignore[assignment]
AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Prefixed(Generic[E]):
    """A table's columns in a joined read, labelled `<prefix><column>`, and the domain
    dataclass built back from them."""

    table: Table
    prefix: str
    entity: type[E]

    def columns(self) -> list[Label[Any]]:
        return [column.label(self.prefix + column.name) for column in self.table.columns]

    def build(self, row: RowMapping, **overrides: Any) -> E:
        names = (field.name for field in dataclasses.fields(self.entity))  # type: ignore[arg-type]
        values = {name: row[self.prefix + name] for name in names if name not in overrides}
        return self.entity(**values, **overrides)


TOKEN_COLUMNS = Prefixed(TOKENS, "t_", RefreshTokenRecord)
SESSION_COLUMNS = Prefixed(SESSIONS, "s_", Session)
USER_COLUMNS = Prefixed(USERS, "u_", User)

LOCK_WITH_SESSION = (
    select(*TOKEN_COLUMNS.columns(), *SESSION_COLUMNS.columns(), *USER_COLUMNS.columns())
    .select_from(
        TOKENS.join(SESSIONS, SESSIONS.c.id == TOKENS.c.session_id).join(
            USERS, USERS.c.id == SESSIONS.c.user_id
        )
    )
    .where(TOKENS.c.token_hash == bindparam("presented_hash"))
    .with_for_update(of=TOKENS)
)


def locked_token_of(row: RowMapping) -> tuple[RefreshTokenRecord, Session, User]:
    """The token, session and user of a `LOCK_WITH_SESSION` row."""
    session = SESSION_COLUMNS.build(row, amr=tuple(row["s_amr"]))
    user = USER_COLUMNS.build(row, roles=frozenset(Role(role) for role in row["u_roles"]))
    return TOKEN_COLUMNS.build(row), session, user


_AT = bindparam("at", type_=UtcDateTime())
_SESSION_ID = bindparam("family", type_=String())
_SUCCESSOR_HASH = bindparam("successor", type_=LargeBinary())

CLEAR_SEALED = (
    update(TOKENS)
    .where(TOKENS.c.session_id == _SESSION_ID, TOKENS.c.sealed_successor.is_not(None))
    .values(sealed_successor=None)
)
"""Forget the family's sealed successors (through the partial index of the rows holding one:
migration 0009): at every rotation, and when the family is revoked."""
MARK_ROTATED = (
    update(TOKENS)
    .where(TOKENS.c.token_hash == bindparam("presented_hash"))
    .values(
        used_at=_AT,
        successor_hash=_SUCCESSOR_HASH,
        sealed_successor=bindparam("sealed", type_=LargeBinary()),
    )
)
INSERT_SUCCESSOR = insert(TOKENS).values(
    token_hash=_SUCCESSOR_HASH,
    session_id=_SESSION_ID,
    generation=bindparam("successor_generation"),
    created_at=_AT,
)
TOUCH_SESSION = update(SESSIONS).where(SESSIONS.c.id == _SESSION_ID).values(last_used_at=_AT)

INSERT_AUDIT = insert(AUDIT)
"""An audit row, its values given at execution."""
AUDIT_PARAMETER = "audit_"
"""The prefix of the audit row's parameters in the rotation's statements."""
INSERT_ROTATION_AUDIT = insert(AUDIT).values(
    {
        column.name: bindparam(AUDIT_PARAMETER + column.name, type_=column.type)
        for column in AUDIT.columns
        if column.name != "id"
    }
)

ROTATION_STATEMENTS = (
    CLEAR_SEALED,
    MARK_ROTATED,
    INSERT_SUCCESSOR,
    TOUCH_SESSION,
    INSERT_ROTATION_AUDIT,
)
RECORD_ROTATION = INSERT_SUCCESSOR.add_cte(
    CLEAR_SEALED.cte("cleared"),
    MARK_ROTATED.cte("rotated"),
    TOUCH_SESSION.cte("touched"),
    INSERT_ROTATION_AUDIT.cte("audited"),
)
