"""`POST /v1/orders` (with `Idempotency-Key`), `GET /v1/orders[/{id}]`, `POST .../pay|cancel`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from tessera import problem_for
from tessera.http.openapi import problem_responses

from orders_service.api.deps import OrderReader, OrdersDep, OrderWriter
from orders_service.domain.idempotency import IdempotentRequest, RecordedAnswer, fingerprint_of
from orders_service.domain.orders import MAX_LINES, MAX_QUANTITY, Order, OrderLine, OrderStatus
from orders_service.errors import OrdersError

router = APIRouter(prefix="/v1/orders", tags=["orders"], responses=problem_responses(404, 409))


EXAMPLE_ITEMS: list[JsonValue] = [
    {"sku": "TESSERA-MUG", "quantity": 2, "unit_price_cents": 1250},
    {"sku": "TESSERA-TEE", "quantity": 1, "unit_price_cents": 1999},
]
"""The lines of `/docs`' example order: the mug and the tee of `make demo`, 44.99 EUR."""


class OrderItem(BaseModel):
    """One line of an order; the domain checks the same rules again."""

    model_config = ConfigDict(json_schema_extra={"examples": EXAMPLE_ITEMS[:1]})

    sku: str = Field(min_length=1, max_length=64, pattern=r"\S", description="not blank")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price_cents: int = Field(ge=0, le=10**12)


PRICED_ITEM: dict[str, JsonValue] = {"properties": {"unit_price_cents": {"minimum": 1}}}
"""At least one line costs something: an order of zero cents is refused (422)."""


class OrderIn(BaseModel):
    """What a client sends to place an order."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": EXAMPLE_ITEMS, "currency": "EUR"}]}
    )

    items: list[OrderItem] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="At least one item has a price: an order of zero cents is refused (422).",
        json_schema_extra={"contains": PRICED_ITEM},
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")


class OrderOut(BaseModel):
    """An order as clients see it."""

    id: str
    status: str
    total_cents: int
    currency: str
    items: list[OrderItem]
    invoice_id: str | None
    created_at: datetime
    pending_reason: str | None = Field(
        description="While payment_pending: `charging` (its charge is under way) or "
        "`billing_unavailable` (billing could not be reached; retried in the background)"
    )
    failure_reason: str | None = Field(
        description="When payment_failed: `charge_rejected` (billing refused it) or "
        "`authorization_expired` (the authorization to charge ran out; pay again)"
    )

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        reason = order.status_reason.value if order.status_reason else None
        pending = order.status is OrderStatus.PAYMENT_PENDING
        failed = order.status is OrderStatus.PAYMENT_FAILED
        return cls(
            id=order.id,
            status=order.status.value,
            total_cents=order.total_cents,
            currency=order.currency,
            items=[
                OrderItem(sku=li.sku, quantity=li.quantity, unit_price_cents=li.unit_price_cents)
                for li in order.lines
            ],
            invoice_id=order.invoice_id,
            created_at=order.created_at,
            pending_reason=reason if pending else None,
            failure_reason=reason if failed else None,
        )


class OrderList(BaseModel):
    """The caller's orders, newest first; with `status` as an admin, everyone's, oldest first."""

    items: list[OrderOut]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Per user: a replay with the same body gets the first answer again",
    ),
]

_REPLAYED_HEADERS = frozenset({"content-type", "www-authenticate", "retry-after"})


def order_answer(outcome: Order | OrdersError) -> RecordedAnswer:
    """201 with the order (202 while payment_pending), or the error's problem+json."""
    if isinstance(outcome, OrdersError):
        problem = problem_for(outcome)
        headers = tuple((k, v) for k, v in problem.headers.items() if k in _REPLAYED_HEADERS)
        return RecordedAnswer(problem.status_code, headers, bytes(problem.body).decode())
    pending = outcome.status is OrderStatus.PAYMENT_PENDING
    return RecordedAnswer(
        status.HTTP_202_ACCEPTED if pending else status.HTTP_201_CREATED,
        (("content-type", "application/json"),),
        OrderOut.of(outcome).model_dump_json(),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses={202: {"model": OrderOut, "description": "stored; billing unreachable, pending"}},
)
async def place_order(
    body: OrderIn,
    caller: OrderWriter,
    use_cases: OrdersDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    lines = [OrderLine(i.sku, i.quantity, i.unit_price_cents) for i in body.items]
    if idempotency_key is None:
        answer = order_answer(
            await use_cases.place(owner_id=caller.sub, lines=lines, currency=body.currency)
        )
    else:
        answer = await use_cases.place_once(
            owner_id=caller.sub,
            lines=lines,
            currency=body.currency,
            request=IdempotentRequest(idempotency_key, fingerprint_of(body.model_dump())),
            render=order_answer,
        )
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


@router.get("")
async def list_orders(
    caller: OrderReader,
    use_cases: OrdersDep,
    status_filter: Annotated[
        OrderStatus | None,
        Query(
            alias="status",
            description="Only orders of this status; an admin gets every user's (oldest first), "
            "e.g. `payment_pending` to see what waits for billing and why",
        ),
    ] = None,
) -> OrderList:
    if status_filter is not None and caller.is_admin:
        orders = await use_cases.list_everyones(status_filter)
    else:
        orders = await use_cases.list_own(caller.sub, status=status_filter)
    return OrderList(items=[OrderOut.of(order) for order in orders])


@router.get("/{order_id}")
async def get_order(order_id: str, caller: OrderReader, use_cases: OrdersDep) -> OrderOut:
    order = await use_cases.get(order_id, viewer_id=caller.sub, viewer_is_admin=caller.is_admin)
    return OrderOut.of(order)


@router.post("/{order_id}/pay")
async def pay_order(order_id: str, caller: OrderWriter, use_cases: OrdersDep) -> OrderOut:
    """Charge a payment_pending order (exactly once, however often retried)."""
    return OrderOut.of(await use_cases.pay(order_id, owner_id=caller.sub))


@router.post("/{order_id}/cancel")
async def cancel_order(order_id: str, caller: OrderWriter, use_cases: OrdersDep) -> OrderOut:
    """Refund the order's charge (exactly once) and mark it cancelled."""
    return OrderOut.of(await use_cases.cancel(order_id, caller=caller))
