"""What the orders use cases need from the world outside, as Protocols the adapters implement.

`OrderStore` is the orders database (each write its own committed transaction: an order must be
durable before billing is called); `PaymentGateway` is billing, reached over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from orders_service.domain.idempotency import IdempotencyRecord, IdempotentRequest, RecordedAnswer
from orders_service.domain.orders import Order, OrderStatus
from orders_service.errors import OrdersError


class OrderStore(Protocol):
    """Order persistence; each write is its own committed transaction."""

    async def add(self, order: Order, *, idempotency: IdempotentRequest | None = None) -> bool:
        """Store the order and its key in one transaction; False (nothing stored) if the
        owner already used the key."""
        ...

    async def transition(self, order: Order, *, expected: Collection[OrderStatus]) -> bool:
        """Write `order`'s status and invoice id if the stored status is one of `expected`."""
        ...

    async def get(self, order_id: str) -> Order | None: ...

    async def list_for_owner(self, owner_id: str, *, limit: int) -> list[Order]:
        """The owner's orders, newest first."""
        ...

    async def idempotency_record(self, owner_id: str, key: str) -> IdempotencyRecord | None: ...

    async def record_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        """Record the key's first answer, unless one is recorded already."""
        ...


class PaymentGateway(Protocol):
    """billing, as seen by orders; raises `PaymentError` subclasses."""

    async def charge(
        self, *, order_id: str, amount_cents: int, currency: str, idempotency_key: str
    ) -> str:
        """Charge the current caller and return the invoice id."""
        ...

    async def refund(self, *, invoice_id: str, idempotency_key: str, reason: str) -> None:
        """Refund one of the current caller's invoices in full."""
        ...


RenderAnswer = Callable[[Order | OrdersError], RecordedAnswer]
"""How the API answers an order or an error (the domain records it without reading it)."""
