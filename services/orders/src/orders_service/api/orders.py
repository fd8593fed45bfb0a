"""`POST /v1/orders`, `GET /v1/orders`, `GET /v1/orders/{id}`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from orders_service.api.deps import OrderDeskDep, OrderReader, OrderWriter
from orders_service.domain.orders import MAX_LINES, MAX_QUANTITY, Order, OrderLine, OrderStatus

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class OrderItem(BaseModel):
    """One line of an order; the domain checks the same rules again."""

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price_cents: int = Field(ge=0, le=10**12)


class OrderIn(BaseModel):
    """What a client sends to place an order."""

    items: list[OrderItem] = Field(min_length=1, max_length=MAX_LINES)
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

    @classmethod
    def of(cls, order: Order) -> OrderOut:
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
        )


class OrderList(BaseModel):
    """The caller's orders, newest first."""

    items: list[OrderOut]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": OrderOut, "description": "stored; billing unreachable, pending"}},
)
async def place_order(
    body: OrderIn, caller: OrderWriter, desk: OrderDeskDep, response: Response
) -> OrderOut:
    order = await desk.place(
        owner_id=caller.sub,
        lines=[OrderLine(i.sku, i.quantity, i.unit_price_cents) for i in body.items],
        currency=body.currency,
    )
    if order.status is OrderStatus.PAYMENT_PENDING:
        response.status_code = status.HTTP_202_ACCEPTED
    return OrderOut.of(order)


@router.get("")
async def list_orders(caller: OrderReader, desk: OrderDeskDep) -> OrderList:
    return OrderList(items=[OrderOut.of(order) for order in await desk.list_own(caller.sub)])


@router.get("/{order_id}")
async def get_order(order_id: str, caller: OrderReader, desk: OrderDeskDep) -> OrderOut:
    order = await desk.get(order_id, viewer_id=caller.sub, viewer_is_admin=caller.is_admin)
    return OrderOut.of(order)
