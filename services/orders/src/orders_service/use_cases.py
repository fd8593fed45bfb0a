"""The orders use cases: place an order (store, then charge), pay it later, cancel it, read.

An order is committed before billing is called, so a crash or an unreachable billing never
loses it: it stays `payment_pending`. The order id is the charge's idempotency key, so charging
it again (paying later, a retry, cancel settling a pending order) can never charge twice, and
billing records one refund per invoice, so cancelling again never refunds twice. Status changes
are compare-and-set (`OrderStore.transition`): concurrent pay and cancel agree on one outcome.

Settling: every order is stored with a pending charge holding the billing token its request
obtained (`domain/payments.py`); the reconciler (`settle_due`, on one replica at a time)
retries due charges with backoff until billing answers (`paid` or `payment_failed`) or the
token runs out (`payment_failed`, `authorization_expired`: the user may pay again).

An `Idempotency-Key` whose first request stored its order but could not finish (the database
went away mid-request) is completed in the background as soon as the database answers again,
with the order as it stands: a retry after a blip gets its answer within a second or two, not
409 until `IN_FLIGHT_TIMEOUT` (which still covers a replica that died mid-request).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from tessera.background import TaskSet
from tessera.tokens.step_up import AuthenticatedCaller, StepUpPolicy

from orders_service.domain.idempotency import IN_FLIGHT_TIMEOUT, IdempotentRequest, RecordedAnswer
from orders_service.domain.orders import (
    CANCELLABLE,
    PAYABLE,
    Order,
    OrderLine,
    OrderStatus,
    StatusReason,
    cancelled,
    may_view,
    new_order,
    paid,
    payment_failed,
    still_pending,
)
from orders_service.domain.payments import FIRST_RETRY_AFTER, PendingCharge, retry_delay
from orders_service.domain.ports import OrderStore, PaymentGateway, RenderAnswer
from orders_service.errors import (
    BillingFailedError,
    BillingUnavailableError,
    ChargeForbiddenError,
    ChargeRejectedError,
    ChargeUnauthenticatedError,
    IdempotencyKeyReusedError,
    OrderNotFoundError,
    OrdersError,
    OrderStateError,
    RequestInProgressError,
)

PENDING_ONLY = frozenset({OrderStatus.PAYMENT_PENDING})
"""What the reconciler settles: never an order the user has since paid, failed or cancelled."""


class OrderCaller(AuthenticatedCaller, Protocol):
    """The verified caller of a cancel (`tessera.Principal` fits): who, and how recently and
    strongly they authenticated."""

    @property
    def sub(self) -> str: ...


UNAUTHENTICATED_ANSWER = 401
"""A recorded answer that refused the caller's token, not the request (see `_charge_again`)."""


@dataclass(slots=True)
class Orders:
    """Places, pays, cancels and reads orders for a verified caller."""

    store: OrderStore
    payments: PaymentGateway
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    """Random, so order ids reveal nothing about volume or order."""
    follow_ups: TaskSet = field(default_factory=lambda: TaskSet("orders-complete-key"))
    """Keys being completed after their first request failed; closed with the app."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    refund_policy: StepUpPolicy = field(default=StepUpPolicy(max_age_seconds=300))
    """billing's rule for refunds (REFUND_MAX_AGE_SECONDS), checked here too before a cancel
    charges a pending order: nobody is charged and then refused the refund."""

    async def place(self, *, owner_id: str, lines: list[OrderLine], currency: str) -> Order:
        """Store the order, then charge it: `paid`, or `payment_pending` if billing is away.

        Raises the PaymentError billing answered with when it refused the charge; a charge
        billing rejects as invalid marks the order `payment_failed` first.
        """
        order = self._new_order(owner_id, lines, currency)
        await self.store.add(order, pending=await self._pending_charge(order))
        return await self._charge_new(order)

    async def place_once(
        self,
        *,
        owner_id: str,
        lines: list[OrderLine],
        currency: str,
        request: IdempotentRequest,
        render: RenderAnswer,
    ) -> RecordedAnswer:
        """`place` at most once per (owner, key); every later call gets the first answer.

        Raises IdempotencyKeyReusedError for the key with another body, RequestInProgressError
        while the first call with the key is still running.
        """
        earlier = await self._earlier_answer(owner_id, request, render)
        if earlier is not None:
            return earlier
        order = self._new_order(owner_id, lines, currency)
        pending = await self._pending_charge(order)
        if not await self.store.add(order, idempotency=request, pending=pending):
            # A concurrent call with the same key stored its order first.
            earlier = await self._earlier_answer(owner_id, request, render)
            if earlier is None:
                raise RequestInProgressError("retry shortly")  # the key was stored: unreachable
            return earlier
        try:
            try:
                answer = render(await self._charge_new(order))
            except OrdersError as error:
                answer = render(error)
            await self.store.record_answer(owner_id, request.key, answer)
        except Exception:
            # The key is taken and its order stored, but this request cannot finish it.
            self.follow_ups.spawn(self._complete_key(owner_id, request.key, order.id, render))
            raise
        return answer

    async def pay(self, order_id: str, *, owner_id: str) -> Order:
        """Charge a `payment_pending` order; paying a paid order again returns it unchanged."""
        order = await self._own(order_id, owner_id)
        if order.status is OrderStatus.PAID:
            return order
        if order.status not in PAYABLE:
            raise OrderStateError(f"order {order_id} is {order.status}; it cannot be paid")
        try:
            invoice_id = await self._charge(order)
        except ChargeRejectedError:
            await self._move(payment_failed(order), expected=PAYABLE)
            raise
        result = await self._move(paid(order, invoice_id=invoice_id), expected=PAYABLE)
        if result.status is not OrderStatus.PAID:
            raise OrderStateError(f"order {order_id} was {result.status} meanwhile")
        return result

    async def cancel(self, order_id: str, *, caller: OrderCaller) -> Order:
        """Refund the order's charge (once, however often called) and mark it `cancelled`.

        A `payment_pending` order may have been charged after all (billing charged, then the
        answer missed the deadline), so cancel first settles it: Charge with the order's key
        returns billing's invoice for it, or makes one, and that invoice is refunded. A refund
        needs a recent authentication (billing's rule, RFC 9470): billing's challenge comes
        back as `InsufficientUserAuthenticationError`, and the order stays as it was.
        """
        order = await self._own(order_id, caller.sub)
        if order.status is OrderStatus.CANCELLED:
            return order
        invoice_id = order.invoice_id
        if order.status is OrderStatus.PAYMENT_PENDING:
            self.refund_policy.check(caller, now=self.clock().timestamp())
            try:
                invoice_id = await self._charge(order)
            except ChargeRejectedError:
                invoice_id = None  # billing refuses this charge: nothing was ever taken
        if invoice_id is not None:
            await self.payments.refund(
                invoice_id=invoice_id, idempotency_key=f"cancel-{order.id}", reason="cancelled"
            )
        return await self._move(cancelled(order, invoice_id=invoice_id), expected=CANCELLABLE)

    async def get(self, order_id: str, *, viewer_id: str, viewer_is_admin: bool) -> Order:
        """One order the viewer may see."""
        order = await self.store.get(order_id)
        if order is None or not may_view(
            order, viewer_id=viewer_id, viewer_is_admin=viewer_is_admin
        ):
            raise OrderNotFoundError(f"no order {order_id}")
        return order

    async def list_own(
        self, owner_id: str, *, limit: int = 100, status: OrderStatus | None = None
    ) -> list[Order]:
        """The owner's most recent orders (of `status`, if given), newest first."""
        return await self.store.list_for_owner(owner_id, limit=limit, status=status)

    async def list_everyones(self, status: OrderStatus, *, limit: int = 100) -> list[Order]:
        """Every user's orders of `status`, oldest first: for admins (who checks first)."""
        return await self.store.list_with_status(status, limit=limit)

    async def settle_due(self, *, limit: int = 100) -> dict[str, int]:
        """One reconciler round: try every due pending charge once; how each ended, counted
        (`paid`, `payment_failed`, `retry`, `gone`)."""
        outcomes: dict[str, int] = {}
        for charge in await self.store.due_charges(self.clock(), limit=limit):
            outcome = await self._settle(charge)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    async def _settle(self, charge: PendingCharge) -> str:
        order = await self.store.get(charge.order_id)
        if order is None or order.status is not OrderStatus.PAYMENT_PENDING:
            return "gone"  # settled meanwhile (paid, cancelled); its row went with it
        authorization = charge.authorization
        expired = payment_failed(order, StatusReason.AUTHORIZATION_EXPIRED)
        if authorization is None or not authorization.usable_at(self.clock()):
            moved = await self._move(expired, expected=PENDING_ONLY)
            return moved.status.value
        try:
            invoice_id = await self.payments.charge(
                order_id=order.id,
                amount_cents=order.total_cents,
                currency=order.currency,
                idempotency_key=order.id,
                authorization=authorization,
            )
        except ChargeRejectedError:
            failed = payment_failed(order, StatusReason.CHARGE_REJECTED)
            return (await self._move(failed, expected=PENDING_ONLY)).status.value
        except (ChargeUnauthenticatedError, ChargeForbiddenError):
            # the token was refused: expired on the way, or its session or user was revoked
            return (await self._move(expired, expected=PENDING_ONLY)).status.value
        except (BillingUnavailableError, BillingFailedError):
            attempts = charge.attempts + 1
            await self.store.retry_charge_later(
                order.id,
                reason=StatusReason.BILLING_UNAVAILABLE,
                attempts=attempts,
                at=self.clock() + retry_delay(attempts),
            )
            return "retry"
        settled = paid(order, invoice_id=invoice_id)
        return (await self._move(settled, expected=PENDING_ONLY)).status.value

    async def _pending_charge(self, order: Order) -> PendingCharge:
        """The new order's charge for the reconciler, with the caller's billing token."""
        return PendingCharge(
            order_id=order.id,
            authorization=await self.payments.authorization(),
            attempts=0,
            next_attempt_at=order.created_at + FIRST_RETRY_AFTER,
        )

    def _new_order(self, owner_id: str, lines: list[OrderLine], currency: str) -> Order:
        return new_order(
            order_id=self.new_id(),
            owner_id=owner_id,
            lines=lines,
            currency=currency,
            now=self.clock(),
        )

    async def _own(self, order_id: str, owner_id: str) -> Order:
        """Only the owner pays or cancels: billing charges and refunds the caller's account."""
        order = await self.store.get(order_id)
        if order is None or order.owner_id != owner_id:
            raise OrderNotFoundError(f"no order {order_id}")
        return order

    async def _charge(self, order: Order) -> str:
        return await self.payments.charge(
            order_id=order.id,
            amount_cents=order.total_cents,
            currency=order.currency,
            idempotency_key=order.id,
        )

    async def _charge_new(self, order: Order) -> Order:
        try:
            invoice_id = await self._charge(order)
        except BillingUnavailableError:
            waiting = still_pending(order, StatusReason.BILLING_UNAVAILABLE)
            await self.store.retry_charge_later(
                order.id,
                reason=StatusReason.BILLING_UNAVAILABLE,
                attempts=1,
                at=self.clock() + retry_delay(1),
            )
            return waiting
        except ChargeRejectedError:
            await self._move(payment_failed(order), expected=PAYABLE)
            raise
        return await self._move(paid(order, invoice_id=invoice_id), expected=PAYABLE)

    async def _move(self, after: Order, *, expected: Collection[OrderStatus]) -> Order:
        """Store `after` if the order is still in an `expected` status; else the stored one."""
        if await self.store.transition(after, expected=expected):
            return after
        return await self._own(after.id, after.owner_id)

    async def _complete_key(
        self, owner_id: str, key: str, order_id: str, render: RenderAnswer
    ) -> None:
        """Record the order as it stands as the key's answer, retrying (0.1 s doubling to 2 s)
        until the database answers or `IN_FLIGHT_TIMEOUT` has passed."""
        delay, waited = 0.1, 0.0
        while waited < IN_FLIGHT_TIMEOUT.total_seconds():
            await self.sleep(delay)
            waited += delay
            try:
                order = await self.store.get(order_id)
                if order is not None:
                    await self.store.record_answer(owner_id, key, render(order))
                return
            except Exception:  # the database is still away: the next try, a little later
                delay = min(delay * 2, 2.0)

    async def _charge_again(
        self, owner_id: str, key: str, order_id: str, render: RenderAnswer
    ) -> RecordedAnswer:
        """The key's first request was refused for its token on the way to billing (it expired
        between orders' check and the exchange, or its session had ended): its order is stored,
        uncharged. The same request again, with a token that is good now, charges that order
        (billing's key is the order id: never twice) and its answer replaces the refusal, so a
        client that refreshes and retries with the key gets its order, not the 401 for ever."""
        order = await self._own(order_id, owner_id)
        try:
            current = order
            if order.status is OrderStatus.PAYMENT_PENDING:
                current = await self._charge_new(order)
            answer = render(current)
        except OrdersError as error:
            answer = render(error)
        await self.store.replace_refused_answer(owner_id, key, answer)
        return answer

    async def _earlier_answer(
        self, owner_id: str, request: IdempotentRequest, render: RenderAnswer
    ) -> RecordedAnswer | None:
        record = await self.store.idempotency_record(owner_id, request.key)
        if record is None:
            return None
        if record.fingerprint != request.fingerprint:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was first used with a different request body"
            )
        if record.answer is not None:
            if record.answer.status == UNAUTHENTICATED_ANSWER:
                return await self._charge_again(owner_id, request.key, record.order_id, render)
            return record.answer
        if self.clock() - record.created_at < IN_FLIGHT_TIMEOUT:
            raise RequestInProgressError(
                "the first request with this Idempotency-Key is still running; retry shortly"
            )
        # The first request died before answering: answer with its order as it stands.
        answer = render(await self._own(record.order_id, owner_id))
        await self.store.record_answer(owner_id, request.key, answer)
        return answer
