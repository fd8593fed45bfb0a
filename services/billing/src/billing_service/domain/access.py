"""Who may call what: one small policy function per operation.

The skeleton forwards the user's own access token from orders, so a charge is allowed for a
token with `orders:write`. The token-exchange issue changes each money-moving policy to one
line: `caller.has_scope("billing:charge") and caller.actor == "orders"`.
"""

from __future__ import annotations

from typing import Protocol

from billing_service.errors import PermissionDeniedError


class Caller(Protocol):
    """What the policies read from a verified principal (tessera.Principal fits)."""

    @property
    def sub(self) -> str: ...

    @property
    def actor(self) -> str | None: ...

    @property
    def is_admin(self) -> bool: ...

    def has_scope(self, scope: str, /) -> bool: ...


def require_charge_permission(caller: Caller) -> None:
    """Charge moves money for `caller.sub`; today the user's `orders:write` token allows it."""
    if not caller.has_scope("orders:write"):
        raise PermissionDeniedError("Charge needs the scope orders:write")


def require_refund_permission(caller: Caller) -> None:
    """Refund moves money back; same rule as Charge until token exchange lands."""
    if not caller.has_scope("orders:write"):
        raise PermissionDeniedError("Refund needs the scope orders:write")


def require_invoice_read_permission(caller: Caller) -> None:
    """Reading invoices needs `invoices:read` (a user directly, or a service acting for one)."""
    if not caller.has_scope("invoices:read"):
        raise PermissionDeniedError("Reading invoices needs the scope invoices:read")


def may_view(caller: Caller, *, owner_id: str) -> bool:
    """An invoice is visible to its owner and to admins; to anyone else it does not exist."""
    return caller.sub == owner_id or caller.is_admin
