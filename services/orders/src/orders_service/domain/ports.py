"""What the orders use cases need from the world outside, as Protocols the adapters implement.

`OrderStore` is the orders database (each write its own committed transaction: an order must be
durable before billing is called), pending charges included; `PaymentGateway` is billing,
reached over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orders_service.domain.idempotency import IdempotencyRecord, IdempotentRequest, RecordedAnswer
from orders_service.domain.orders import Order, OrderStatus, StatusReason
from orders_service.domain.payments import ChargeAuthorization, PendingCharge
from orders_service.errors import OrdersError


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """How many orders are `payment_pending`, and since when the oldest is."""

    count: int
    oldest_created_at: datetime | None


class OrderStore(Protocol):
    """Order persistence; each write is its own committed transaction."""

    async def add(
        self,
        order: Order,
        *,
        idempotency: IdempotentRequest | None = None,
        pending: PendingCharge | None = None,
    ) -> bool:
        """Store the order, its key and its pending charge in one transaction; False (nothing
        stored) if the owner already used the key."""
        ...

    async def transition(self, order: Order, *, expected: Collection[OrderStatus]) -> bool:
        """Write `order`'s status, reason and invoice id if the stored status is one of
        `expected`; an order leaving `payment_pending` drops its pending charge with it."""
        ...

    async def retry_charge_later(
        self, order_id: str, *, reason: StatusReason, attempts: int, at: datetime
    ) -> None:
        """Note a failed attempt of a still pending order's charge, and when to try again."""
        ...

    async def due_charges(self, now: datetime, *, limit: int) -> list[PendingCharge]:
        """Pending charges due for an attempt by `now`, the longest waiting first."""
        ...

    async def pending_summary(self) -> PendingSummary: ...

    async def get(self, order_id: str) -> Order | None: ...

    async def list_for_owner(
        self, owner_id: str, *, limit: int, status: OrderStatus | None = None
    ) -> list[Order]:
        """The owner's orders (of `status`, if given), newest first."""
        ...

    async def list_with_status(self, status: OrderStatus, *, limit: int) -> list[Order]:
        """Everybody's orders of `status`, oldest first (what an operator works through)."""
        ...

    async def idempotency_record(self, owner_id: str, key: str) -> IdempotencyRecord | None: ...

    async def record_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        """Record the key's first answer, unless one is recorded already."""
        ...

    async def replace_refused_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        """Replace a recorded 401 (the token was refused, not the request) with `answer`."""
        ...


class PaymentGateway(Protocol):
    """billing, as seen by orders; raises `PaymentError` subclasses."""

    async def authorization(self) -> ChargeAuthorization | None:
        """The current caller's billing token, kept to retry a charge later; None when it
        cannot be had now (auth unreachable: the order then cannot be settled for them)."""
        ...

    async def charge(
        self,
        *,
        order_id: str,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
        authorization: ChargeAuthorization | None = None,
    ) -> str:
        """Charge the current caller (or the user `authorization` acts for) and return the
        invoice id."""
        ...

    async def refund(self, *, invoice_id: str, idempotency_key: str, reason: str) -> None:
        """Refund one of the current caller's invoices in full."""
        ...


RenderAnswer = Callable[[Order | OrdersError], RecordedAnswer]
"""How the API answers an order or an error (the domain records it without reading it)."""
