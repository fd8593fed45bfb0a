"""The billing use cases: charge, refund, read. Storage comes in through `InvoiceStorage`.

Each method checks the caller's permission first (domain policy, see `domain.access`), so the
HTTP routes and the gRPC servicer stay thin and cannot forget it, and runs in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tessera.tokens.step_up import StepUpPolicy

from billing_service.domain.access import (
    Caller,
    may_view,
    require_charge_permission,
    require_invoice_read_permission,
    require_refund_permission,
)
from billing_service.domain.invoices import Invoice, new_paid_invoice, refunded
from billing_service.domain.paging import (
    PageCursor,
    clamp_page_size,
    decode_page_token,
    encode_page_token,
)
from billing_service.domain.ports import InvoiceStorage
from billing_service.errors import IdempotencyKeyReusedError, InvoiceNotFoundError


@dataclass(frozen=True, slots=True)
class InvoicePage:
    """One page of a list; `next_page_token` is empty on the last page."""

    invoices: list[Invoice]
    next_page_token: str


@dataclass(slots=True)
class Invoices:
    """Charges, refunds and reads invoices for a verified caller, each call one transaction."""

    storage: InvoiceStorage
    page_size_max: int = 100
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    """Random, so invoice ids reveal nothing about volume or order."""
    refund_policy: StepUpPolicy = field(default=StepUpPolicy(max_age_seconds=300))
    """How recent the user's authentication must be for a refund (REFUND_MAX_AGE_SECONDS): the
    rule lives where the money is, and travels back to the user as an RFC 9470 challenge."""

    async def charge(
        self,
        caller: Caller,
        *,
        order_id: str,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
    ) -> Invoice:
        """Charge the caller once per idempotency key; a retry returns the first invoice."""
        require_charge_permission(caller)
        candidate = new_paid_invoice(
            invoice_id=self.new_id(),
            user_id=caller.sub,
            order_id=order_id,
            amount_cents=amount_cents,
            currency=currency,
            idempotency_key=idempotency_key,
            now=self.clock(),
        )
        async with self.storage.transaction() as store:
            stored = await store.add_or_get_existing(candidate)
        if not stored.is_same_charge(
            order_id=order_id, amount_cents=amount_cents, currency=currency
        ):
            raise IdempotencyKeyReusedError(
                "this idempotency_key already charged a different order, amount or currency"
            )
        return stored

    async def refund(self, caller: Caller, *, invoice_id: str, reason: str) -> Invoice:
        """Refund one of the caller's invoices in full; refunding again returns it unchanged.
        `InsufficientUserAuthenticationError` when the user authenticated too long ago."""
        require_refund_permission(caller)
        self.refund_policy.check(caller, now=self.clock().timestamp())
        async with self.storage.transaction() as store:
            invoice = await store.get(invoice_id)
            if invoice is None or invoice.user_id != caller.sub:
                raise InvoiceNotFoundError(f"no invoice {invoice_id}")
            after = refunded(invoice, reason=reason, now=self.clock())
            if after is invoice:
                return invoice
            return await store.save_refund(after)

    async def get(self, caller: Caller, invoice_id: str) -> Invoice:
        """One invoice the caller may see (their own; any for an admin)."""
        require_invoice_read_permission(caller)
        async with self.storage.transaction() as store:
            invoice = await store.get(invoice_id)
        if invoice is None or not may_view(caller, owner_id=invoice.user_id):
            raise InvoiceNotFoundError(f"no invoice {invoice_id}")
        return invoice

    async def list(self, caller: Caller, *, page_size: int, page_token: str) -> InvoicePage:
        """The caller's own invoices, newest first, one page at a time."""
        require_invoice_read_permission(caller)
        limit = clamp_page_size(page_size, maximum=self.page_size_max)
        after = decode_page_token(page_token)
        # One extra row tells whether another page exists without a COUNT.
        async with self.storage.transaction() as store:
            rows = await store.list_for_user(caller.sub, after=after, limit=limit + 1)
        page, more = rows[:limit], len(rows) > limit
        token = encode_page_token(PageCursor(page[-1].created_at, page[-1].id)) if more else ""
        return InvoicePage(invoices=page, next_page_token=token)
