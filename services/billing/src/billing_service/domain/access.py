"""Who may call what: one small policy function per operation.

Money moves only on behalf of a user and only through orders: Charge and Refund need a token
that orders obtained by token exchange (`act.sub == "orders"`, DESIGN §6) carrying the mapped
billing scope. A user's own token (no actor) or a bare service token (no user session) is
refused, so neither a stolen user token nor a compromised service alone can charge anybody.
Reading invoices needs `invoices:read`, from the user directly or through orders.
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
    def sid(self) -> str | None: ...

    @property
    def is_admin(self) -> bool: ...

    @property
    def auth_time(self) -> int | None: ...

    @property
    def acr(self) -> str | None: ...

    def has_scope(self, scope: str, /) -> bool: ...


CHARGING_SERVICE = "orders"


def _require_acting_through_orders(caller: Caller, scope: str, operation: str) -> None:
    if caller.actor != CHARGING_SERVICE or caller.sid is None:
        raise PermissionDeniedError(
            f"{operation} is accepted only from orders acting for a signed-in user"
        )
    if not caller.has_scope(scope):
        raise PermissionDeniedError(f"{operation} needs the scope {scope}")


def require_charge_permission(caller: Caller) -> None:
    """Charge moves money for `caller.sub`: only orders, acting for that user, may ask."""
    _require_acting_through_orders(caller, "billing:charge", "Charge")


def require_refund_permission(caller: Caller) -> None:
    """Refund moves money back: the same rule as Charge, with `billing:refund`."""
    _require_acting_through_orders(caller, "billing:refund", "Refund")


def require_invoice_read_permission(caller: Caller) -> None:
    """Reading invoices needs `invoices:read` (a user directly, or a service acting for one)."""
    if not caller.has_scope("invoices:read"):
        raise PermissionDeniedError("Reading invoices needs the scope invoices:read")


def may_view(caller: Caller, *, owner_id: str) -> bool:
    """An invoice is visible to its owner and to admins; to anyone else it does not exist."""
    return caller.sub == owner_id or caller.is_admin
