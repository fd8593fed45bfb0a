"""The orders use cases: place an order (store, then charge), read orders.

An order is committed before billing is called, so a crash or an unreachable billing never
loses it: it stays `payment_pending`, and the order id is the charge's idempotency key, so
charging it again later can never charge twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orders_service.domain.orders import (
    Order,
    OrderLine,
    may_view,
    new_order,
    paid,
    payment_failed,
)
from orders_service.errors import BillingUnavailableError, ChargeRejectedError, OrderNotFoundError


class OrderStore(Protocol):
    """Order persistence; each write is its own committed transaction."""

    async def add(self, order: Order) -> None: ...

    async def save_payment(self, order: Order) -> None:
        """Record the order's payment status and invoice id."""
        ...

    async def get(self, order_id: str) -> Order | None: ...

    async def list_for_owner(self, owner_id: str, *, limit: int) -> list[Order]:
        """The owner's orders, newest first."""
        ...


class PaymentGateway(Protocol):
    """Charges an order through billing; raises `PaymentError` subclasses."""

    async def charge(
        self, *, order_id: str, amount_cents: int, currency: str, idempotency_key: str
    ) -> str:
        """Charge the current caller and return the invoice id."""
        ...


@dataclass(slots=True)
class OrderDesk:
    """Places and reads orders for a verified caller."""

    store: OrderStore
    payments: PaymentGateway
    clock: Callable[[], datetime]
    new_id: Callable[[], str]

    async def place(self, *, owner_id: str, lines: list[OrderLine], currency: str) -> Order:
        """Store the order, then charge it: `paid`, or `payment_pending` if billing is away.

        Raises the PaymentError billing answered with when it refused the charge; a charge
        billing rejects as invalid marks the order `payment_failed` first.
        """
        order = new_order(
            order_id=self.new_id(),
            owner_id=owner_id,
            lines=lines,
            currency=currency,
            now=self.clock(),
        )
        await self.store.add(order)
        try:
            invoice_id = await self.payments.charge(
                order_id=order.id,
                amount_cents=order.total_cents,
                currency=order.currency,
                idempotency_key=order.id,
            )
        except BillingUnavailableError:
            return order
        except ChargeRejectedError:
            await self.store.save_payment(payment_failed(order))
            raise
        charged = paid(order, invoice_id=invoice_id)
        await self.store.save_payment(charged)
        return charged

    async def get(self, order_id: str, *, viewer_id: str, viewer_is_admin: bool) -> Order:
        """One order the viewer may see."""
        order = await self.store.get(order_id)
        if order is None or not may_view(
            order, viewer_id=viewer_id, viewer_is_admin=viewer_is_admin
        ):
            raise OrderNotFoundError(f"no order {order_id}")
        return order

    async def list_own(self, owner_id: str, *, limit: int = 100) -> list[Order]:
        """The owner's most recent orders, newest first."""
        return await self.store.list_for_owner(owner_id, limit=limit)
